"""Artifacts by ref as GitLab finds them: in the ref's newest successful pipeline and its
child pipelines, parent first, the build of that name with downloadable artifacts, whatever
its status (app/models/project.rb latest_successful_build_for_ref,
app/models/ci/pipeline.rb build_with_artifacts_in_self_and_project_descendants)."""

from __future__ import annotations

import io
import zipfile

import pytest
from starlette.testclient import TestClient

from tests.conformance.conftest import JOB_TOKEN_150, ROOT, P

BY_REF = f"{P}/jobs/artifacts/master"


def who(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("who.txt").decode().strip()


@pytest.mark.parametrize("recent", [False, True], ids=["latest", "recent"])
@pytest.mark.parametrize(
    ("name", "job"),
    [
        ("build", "job 100"),  # the parent's, though the child has a `build` too
        ("lint", "job 101"),  # failed, but allowed to fail: its artifacts count
        ("child-build", "job 110"),  # only in the child pipeline
    ],
)
def test_the_archive_of_a_ref_comes_from_the_newest_successful_pipeline_family(
    api: TestClient, name: str, job: str, recent: bool
) -> None:
    params = {"job": name, "search_recent_successful_pipelines": str(recent).lower()}
    response = api.get(f"{BY_REF}/download", params=params, headers=ROOT)

    assert response.status_code == 200, response.text
    assert who(response.content) == job


def test_a_single_file_by_ref_from_a_child_pipeline(api: TestClient) -> None:
    response = api.get(f"{BY_REF}/raw/who.txt", params={"job": "child-build"}, headers=ROOT)

    assert (response.status_code, response.text) == (200, "job 110\n")


def test_a_newer_failed_pipeline_does_not_hide_the_successful_one(api: TestClient) -> None:
    # Pipeline 12 (failed) and 15 (running) are newer than 10: neither is a candidate.
    response = api.get(f"{BY_REF}/raw/who.txt", params={"job": "build"}, headers=ROOT)

    assert response.text == "job 100\n"


def test_by_ref_reads_accept_a_job_token(api: TestClient) -> None:
    response = api.get(f"{BY_REF}/raw/who.txt", params={"job": "build"}, headers=JOB_TOKEN_150)

    assert (response.status_code, response.text) == (200, "job 100\n")


def test_a_public_projects_artifacts_are_readable_through_any_job_token(api: TestClient) -> None:
    response = api.get(
        "/api/v4/projects/2/jobs/artifacts/master/raw/who.txt",
        params={"job": "build"},
        headers=JOB_TOKEN_150,
    )

    assert (response.status_code, response.text) == (200, "job 200\n")


def test_anonymous_artifact_reads_follow_public_pipelines(api: TestClient) -> None:
    opened = api.get("/api/v4/projects/2/jobs/200/artifacts/who.txt")
    closed = api.get("/api/v4/projects/3/jobs/300/artifacts/who.txt")

    assert (opened.status_code, opened.text) == (200, "job 200\n")
    assert (closed.status_code, closed.json()) == (403, {"message": "403 Forbidden"})
