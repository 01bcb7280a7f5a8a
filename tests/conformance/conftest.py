"""One seeded store for the GitLab-conformance tests of the Jobs and Pipelines APIs.

    project 1  conform/app (private)   members: guest 10, reporter 20, dev 30, maint 40
    project 2  conform/open (public)   no members; `public_builds` on
    project 3  conform/closed (public) no members; `public_builds` off (the import says so)
    project 4  conform/friend (private) allowlisted by project 1; dev is a member here only

Pipelines of project 1 (ref, status): 10 master success (child 11), 12 master failed,
13 feature success, 14 v1.0 (tag) success, 15 master running. Job tokens: `job-<id>` of
running jobs; job 140 runs in project 4 for dev, job 141 in project 4 for an outsider.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.apps import app_client, app_settings, import_document
from tests.support.documents import job, pipeline, project, user
from tests.support.zips import DEFLATED, Member, make_zip

ROOT = {"PRIVATE-TOKEN": "tok-root"}
JOB_TOKEN_150 = {"JOB-TOKEN": "job-150"}  # a running job of project 1, for dev
READER = {"PRIVATE-TOKEN": "tok-reporter"}
GUEST = {"PRIVATE-TOKEN": "tok-guest"}
DEV = {"PRIVATE-TOKEN": "tok-dev"}
MAINT = {"PRIVATE-TOKEN": "tok-maint"}
OUTSIDER = {"PRIVATE-TOKEN": "tok-outsider"}
READ_API = {"PRIVATE-TOKEN": "tok-dev-read-api"}
ROOT_SUDO = {"PRIVATE-TOKEN": "tok-root-sudo"}
P = "/api/v4/projects/1"
LEVELS = {"guest": 10, "reporter": 20, "dev": 30, "maint": 40}


ARCHIVED = ("100", "101", "110", "111", "120", "200", "300")


def archive(name: str) -> list[dict[str, str]]:
    return [{"file_type": "archive", "path": f"{name}.zip"}]


def archive_bytes(name: str) -> bytes:
    """Job `name`'s archive: `who.txt` says which job it belongs to."""
    return make_zip([Member("who.txt", f"job {name}\n".encode(), DEFLATED)])


def seed(database_url: str, directory: Path) -> None:
    """Writes the archives beside the import file, then imports the world."""
    for name in ARCHIVED:
        (directory / f"{name}.zip").write_bytes(archive_bytes(name))
    import_document(database_url, world(), directory)


def world() -> dict[str, Any]:
    users = [
        user(1, "root", admin=True, tokens=("tok-root",)),
        user(2, "guest", tokens=("tok-guest",)),
        user(3, "reporter", tokens=("tok-reporter",)),
        user(4, "dev", tokens=("tok-dev",)),
        user(5, "maint", tokens=("tok-maint",)),
        user(6, "outsider", tokens=("tok-outsider",)),
    ]
    users[0]["tokens"].append({"token": "tok-root-sudo", "scopes": ["api", "sudo"]})
    users[3]["tokens"].append({"token": "tok-dev-read-api", "scopes": ["read_api"]})
    pipelines = [
        pipeline(10, 1, ref="master", user="dev", name="nightly", duration=34,
                 started_at="2015-12-24T15:51:00.000Z", finished_at="2015-12-24T15:51:34.000Z",
                 created_at="2015-12-24T15:50:16.123Z", updated_at="2015-12-24T15:51:34.000Z"),
        pipeline(11, 1, ref="master", parent_pipeline_id=10,
                 created_at="2015-12-24T15:50:20.000Z", updated_at="2015-12-24T15:52:00.000Z"),
        pipeline(12, 1, ref="master", status="failed", user="maint", yaml_errors="bad yaml",
                 created_at="2015-12-25T10:00:00.000Z", updated_at="2015-12-25T11:00:00.000Z"),
        pipeline(13, 1, ref="feature", source="web",
                 created_at="2015-12-26T10:00:00.000Z", updated_at="2015-12-26T11:00:00.000Z"),
        pipeline(14, 1, ref="v1.0", tag=True,
                 created_at="2015-12-27T10:00:00.000Z", updated_at="2015-12-27T11:00:00.000Z"),
        pipeline(15, 1, ref="master", status="running",
                 created_at="2015-12-28T10:00:00.000Z", updated_at="2015-12-28T11:00:00.000Z"),
        pipeline(20, 2), pipeline(30, 3), pipeline(40, 4),
    ]  # fmt: skip
    jobs = [
        job(100, 10, "success", name="build", user="dev", artifacts=archive("100")),
        job(
            101, 10, "failed", name="lint", allow_failure=True, user="dev", artifacts=archive("101")
        ),
        job(102, 10, "manual", name="deploy", when="manual"),
        job(103, 10, "scheduled", name="later", when="delayed"),
        job(104, 10, "manual", name="trigger", kind="bridge", when="manual"),
        job(105, 10, "success", name="downstream", kind="bridge", downstream_pipeline_id=11),
        job(106, 10, "canceling", name="slow"),
        job(107, 10, "running", name="run"),
        job(110, 11, "success", name="child-build", artifacts=archive("110")),
        job(111, 11, "success", name="build", artifacts=archive("111")),
        job(120, 12, "failed", name="build", artifacts=archive("120")),
        job(150, 15, "running", name="probe", user="dev", token="job-150"),
        job(151, 15, "running", name="anon-probe", token="job-151"),
        job(200, 20, "success", name="build", artifacts=archive("200")),
        job(300, 30, "success", name="build", artifacts=archive("300")),
        job(140, 40, "running", name="friend", user="dev", token="job-140"),
        job(141, 40, "running", name="friend-out", user="outsider", token="job-141"),
    ]
    projects = [
        project(1, "conform/app", "private", LEVELS, ci_job_token_allowlist=[4]),
        project(2, "conform/open", "public"),
        project(3, "conform/closed", "public", public_builds=False),
        project(4, "conform/friend", "private", {"dev": 30, "outsider": 30}),
    ]
    return {"users": users, "projects": projects, "pipelines": pipelines, "jobs": jobs}


@pytest.fixture(scope="module")
def api(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Read-mostly tests share one store; tests that change jobs use `fresh` instead."""
    directory: Path = tmp_path_factory.mktemp("conform")
    seed(module_database_url, directory)
    with app_client(app_settings(module_database_url, directory / "objects")) as client:
        yield client


@pytest.fixture
def fresh(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    seed(database_url, tmp_path)
    with app_client(app_settings(database_url, tmp_path / "objects")) as client:
        yield client


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]
