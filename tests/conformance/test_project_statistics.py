"""`GET /projects/:id?statistics=true`, as GitLab's API::Projects answers it: the project
entity with `statistics` (API::Entities::ProjectStatistics) only when asked and only for
callers allowed `read_statistics` (ProjectPolicy: `reporter_access`, so reporters and up and
administrators); everyone else gets the project without the key, never an error.
`job_artifacts_size` (GitLab's `build_artifacts_size`) is what the project's artifacts
weigh in storage, every type counted; what this service does not store is 0."""

from __future__ import annotations

import gzip

import pytest
from starlette.testclient import TestClient

from tests.conformance.conftest import (
    DEV,
    GUEST,
    MAINT,
    OUTSIDER,
    READER,
    ROOT,
    P,
    archive_bytes,
)
from tests.support.service import upload
from tests.support.zips import DEFLATED, Member, make_zip

GITLAB_KEYS = {
    "commit_count", "storage_size", "repository_size", "wiki_size", "lfs_objects_size",
    "job_artifacts_size", "pipeline_artifacts_size", "packages_size", "snippets_size",
    "uploads_size", "container_registry_size",
}  # fmt: skip
PROJECT_1_ARCHIVES = ("100", "101", "110", "111", "120")


def stored(*names: str) -> int:
    return sum(len(archive_bytes(name)) for name in names)


def statistics(client: TestClient, project: str, headers: dict[str, str]) -> object:
    response = client.get(f"/api/v4/projects/{project}?statistics=true", headers=headers)
    assert response.status_code == 200, response.text
    return response.json().get("statistics", "absent")


@pytest.mark.parametrize(
    "caller", [READER, DEV, MAINT, ROOT], ids=["reporter", "dev", "maint", "root"]
)
def test_reporters_and_up_get_the_projects_artifact_bytes(
    api: TestClient, caller: dict[str, str]
) -> None:
    found = statistics(api, "1", caller)

    assert isinstance(found, dict) and set(found) == GITLAB_KEYS
    assert found["job_artifacts_size"] == stored(*PROJECT_1_ARCHIVES)
    assert found["storage_size"] == found["job_artifacts_size"]
    # What this service does not store (repositories, wikis, packages...) is 0.
    stores = {"job_artifacts_size", "storage_size"}
    assert {value for key, value in found.items() if key not in stores} == {0}


def test_a_project_found_by_full_path_has_the_same_statistics(api: TestClient) -> None:
    assert statistics(api, "conform%2Fapp", READER) == statistics(api, "1", READER)


@pytest.mark.parametrize(
    ("project", "caller"),
    [("1", GUEST), ("2", OUTSIDER), ("2", {})],
    ids=["guest", "outsider-on-public", "anonymous-on-public"],
)
def test_callers_without_read_statistics_get_the_project_without_the_key(
    api: TestClient, project: str, caller: dict[str, str]
) -> None:
    assert statistics(api, project, caller) == "absent"


def test_statistics_are_counted_per_project(api: TestClient) -> None:
    found = statistics(api, "2", ROOT)  # an administrator, no member of project 2

    assert isinstance(found, dict) and found["job_artifacts_size"] == stored("200")


@pytest.mark.parametrize("value", [None, "false", "0"])
def test_without_statistics_true_there_is_no_key(api: TestClient, value: str | None) -> None:
    params = {} if value is None else {"statistics": value}
    response = api.get(P, params=params, headers=ROOT)

    assert response.status_code == 200 and "statistics" not in response.json()


def test_a_statistics_value_that_is_not_a_boolean_is_refused_as_grape_refuses_it(
    api: TestClient,
) -> None:
    response = api.get(P, params={"statistics": "perhaps"}, headers=ROOT)

    assert (response.status_code, response.json()) == (400, {"error": "statistics is invalid"})


def test_statistics_follow_uploads_and_deletions(fresh: TestClient) -> None:
    before = statistics(fresh, "1", MAINT)
    assert isinstance(before, dict)
    archive = make_zip([Member("big.bin", bytes(range(256)) * 400, DEFLATED)])
    junit = gzip.compress(b'<?xml version="1.0"?><testsuites tests="0"/>\n', mtime=0)

    assert upload(fresh, 150, archive).status_code == 201
    report = {"artifact_type": "junit", "artifact_format": "gzip"}
    uploaded = upload(fresh, 150, junit, filename="junit.xml.gz", params=report)
    assert uploaded.status_code == 201, uploaded.text
    grown = statistics(fresh, "1", MAINT)
    deleted = fresh.delete(f"{P}/jobs/100/artifacts", headers=MAINT)
    assert deleted.status_code == 204, deleted.text
    shrunk = statistics(fresh, "1", MAINT)

    assert isinstance(grown, dict) and isinstance(shrunk, dict)
    assert grown["job_artifacts_size"] == before["job_artifacts_size"] + len(archive) + len(junit)
    assert shrunk["job_artifacts_size"] == grown["job_artifacts_size"] - stored("100")
