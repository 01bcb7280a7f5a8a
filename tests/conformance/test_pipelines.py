"""The Pipelines API as GitLab answers it (lib/api/ci/pipelines.rb,
app/finders/ci/pipelines_finder.rb, lib/api/entities/ci/pipeline*.rb)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gitlab
import pytest
from starlette.testclient import TestClient

from tests.conformance.conftest import ROOT, P, ids, seed
from tests.support.apps import app_settings
from tests.support.processes import server_process


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [15, 14, 13, 12, 10]),  # child pipelines are left out
        ({"source": "parent_pipeline"}, [11]),
        ({"ref": "master"}, [15, 12, 10]),
        ({"status": "failed"}, [12]),
        ({"scope": "finished"}, [14, 13, 12, 10]),
        ({"scope": "running"}, [15]),
        ({"scope": "tags"}, [14]),
        ({"scope": "branches"}, [15, 13]),  # the newest pipeline of each branch
        ({"username": "maint"}, [12]),
        ({"username": "nobody"}, []),
        ({"yaml_errors": "true"}, [12]),
        ({"yaml_errors": "false"}, [15, 14, 13, 10]),
        ({"source": "web"}, [13]),
        ({"name": "nightly"}, [10]),
        ({"created_after": "2015-12-26T00:00:00Z"}, [15, 14, 13]),
        ({"created_before": "2015-12-26T00:00:00Z"}, [12, 10]),
        ({"updated_after": "2015-12-27T00:00:00Z"}, [15, 14]),
        ({"updated_before": "2015-12-25T00:00:00Z"}, [10]),
        ({"order_by": "ref", "sort": "asc"}, [13, 10, 12, 15, 14]),
        ({"sort": "asc"}, [10, 12, 13, 14, 15]),
        ({"order_by": "updated_at"}, [15, 14, 13, 12, 10]),
    ],
    ids=lambda value: (
        "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None
    ),
)
def test_the_pipeline_list_honours_gitlabs_filters(
    api: TestClient, params: dict[str, str], expected: list[int]
) -> None:
    assert ids(api.get(f"{P}/pipelines", params=params, headers=ROOT)) == expected


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"scope": "everything"}, "scope does not have a valid value"),
        ({"status": "canceling"}, "status does not have a valid value"),
        ({"order_by": "name"}, "order_by does not have a valid value"),
        ({"sort": "up"}, "sort does not have a valid value"),
        ({"source": "email"}, "source does not have a valid value"),
        ({"updated_after": "yesterday"}, "updated_after is invalid"),
        ({"yaml_errors": "perhaps"}, "yaml_errors is invalid"),
    ],
)
def test_an_invalid_filter_is_refused_as_grape_refuses_it(
    api: TestClient, params: dict[str, str], error: str
) -> None:
    response = api.get(f"{P}/pipelines", params=params, headers=ROOT)

    assert (response.status_code, response.json()) == (400, {"error": error})


def test_a_listed_pipeline_carries_its_name(api: TestClient) -> None:
    listed = {item["id"]: item for item in api.get(f"{P}/pipelines", headers=ROOT).json()}

    assert set(listed[10]) == {
        "id", "iid", "project_id", "sha", "ref", "status", "source", "created_at",
        "updated_at", "web_url", "name",
    }  # fmt: skip
    assert (listed[10]["name"], listed[12]["name"]) == ("nightly", None)


def test_one_pipeline_carries_gitlabs_fields(api: TestClient) -> None:
    body = api.get(f"{P}/pipelines/10", headers=ROOT).json()

    assert body["name"] == "nightly"
    assert body["before_sha"] == "0" * 40
    assert (body["tag"], body["yaml_errors"], body["coverage"]) == (False, None, None)
    assert body["user"]["username"] == "dev" and "email" not in body["user"]
    assert (body["started_at"], body["finished_at"]) == (
        "2015-12-24T15:51:00.000Z",
        "2015-12-24T15:51:34.000Z",
    )
    assert (body["duration"], body["queued_duration"], body["committed_at"]) == (34, 43, None)
    assert body["detailed_status"]["group"] == "success"
    assert body["detailed_status"]["text"] == "passed"
    assert body["detailed_status"]["details_path"] == "/conform/app/-/pipelines/10"


def test_the_latest_pipeline_of_a_ref(api: TestClient) -> None:
    master = api.get(f"{P}/pipelines/latest", params={"ref": "master"}, headers=ROOT)
    feature = api.get(f"{P}/pipelines/latest", params={"ref": "feature"}, headers=ROOT)
    default_branch = api.get(f"{P}/pipelines/latest", headers=ROOT)  # `main`: none there

    assert (master.json()["id"], feature.json()["id"]) == (15, 13)
    assert master.json()["detailed_status"]["group"] == "running"
    assert (default_branch.status_code, default_branch.json()) == (
        403,
        {"message": "403 Forbidden"},
    )


def test_python_gitlab_lists_pipelines_of_a_ref_and_the_latest(
    database_url: str, tmp_path: Path
) -> None:
    seed(database_url, tmp_path)
    settings = app_settings(database_url, tmp_path / "objects")
    env = {
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": settings.storage_url,
    }
    with server_process(env, cwd=tmp_path) as server:
        gl = gitlab.Gitlab(server.base_url, private_token="tok-root")
        project: Any = gl.projects.get("conform/app")
        master = [p.id for p in project.pipelines.list(ref="master", get_all=True)]
        latest = project.pipelines.latest(ref="feature")
        jobs = project.jobs.list(scope=["scheduled", "canceling"], get_all=True)
        played = project.jobs.get(103).play()
        retried = project.jobs.get(100).retry()

    assert master == [15, 12, 10]
    assert (latest.id, latest.ref) == (13, "feature")
    assert sorted(job.id for job in jobs) == [103, 106]
    assert played is None or played["status"] == "pending"
    assert retried["status"] == "pending" and retried["id"] != 100
