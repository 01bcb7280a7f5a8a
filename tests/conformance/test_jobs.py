"""The Jobs API as GitLab answers it (lib/api/ci/jobs.rb, lib/api/ci/pipelines.rb)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from artifactsvc.models import JOB_STATUSES
from tests.conformance.conftest import DEV, MAINT, ROOT, P, ids


@pytest.mark.parametrize("status", JOB_STATUSES)
@pytest.mark.parametrize("form", ["scope", "scope[]", "scope[0]"])
def test_every_job_status_is_a_scope_in_every_form(api: TestClient, status: str, form: str) -> None:
    response = api.get(f"{P}/jobs", params={form: status}, headers=ROOT)

    assert response.status_code == 200, response.text
    assert {job["status"] for job in response.json()} <= {status}


@pytest.mark.parametrize(("status", "expected"), [("scheduled", [103]), ("canceling", [106])])
def test_a_scope_selects_jobs_in_that_status(
    api: TestClient, status: str, expected: list[int]
) -> None:
    assert ids(api.get(f"{P}/jobs", params={"scope[]": status}, headers=ROOT)) == expected


def test_the_hash_form_of_scope_takes_its_values(api: TestClient) -> None:
    found = ids(api.get(f"{P}/jobs?scope[a]=scheduled&scope[b]=canceling", headers=ROOT))

    assert found == [106, 103]


def test_an_unknown_scope_is_grapes_validation_error(api: TestClient) -> None:
    response = api.get(f"{P}/jobs", params={"scope[]": "sleeping"}, headers=ROOT)

    assert (response.status_code, response.json()) == (
        400,
        {"error": "scope does not have a valid value"},
    )


def test_a_pipelines_jobs_are_listed_newest_first(api: TestClient) -> None:
    assert ids(api.get(f"{P}/pipelines/10/jobs", headers=ROOT)) == [107, 106, 103, 102, 101, 100]


def test_a_pipelines_bridges_are_listed_newest_first(api: TestClient) -> None:
    response = api.get(f"{P}/pipelines/10/bridges", headers=ROOT)

    assert ids(response) == [105, 104]
    downstream = response.json()[0]["downstream_pipeline"]
    assert (downstream["id"], downstream["web_url"]) == (
        11,
        "http://artifacts.test/conform/app/-/pipelines/11",
    )


def test_playing_a_delayed_job_runs_it_now(fresh: TestClient) -> None:
    response = fresh.post(f"{P}/jobs/103/play", headers=DEV)

    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["status"]) == (103, "pending")


def test_playing_a_manual_bridge_answers_the_bridge(fresh: TestClient) -> None:
    response = fresh.post(f"{P}/jobs/104/play", headers=DEV)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"]) == (104, "pending")
    assert "downstream_pipeline" in body and "artifacts" not in body


def test_a_job_that_is_no_action_is_unplayable(api: TestClient) -> None:
    response = api.post(f"{P}/jobs/100/play", headers=DEV)

    assert (response.status_code, response.json()) == (
        400,
        {"message": "400 Bad request - Unplayable Job"},
    )


def test_retrying_a_bridge_creates_a_new_bridge(fresh: TestClient) -> None:
    response = fresh.post(f"{P}/jobs/105/retry", headers=DEV)

    assert response.status_code == 201, response.text
    new_id = response.json()["id"]
    assert new_id != 105 and response.json()["status"] == "pending"
    bridges = fresh.get(f"{P}/pipelines/10/bridges", headers=ROOT).json()
    assert [bridge["id"] for bridge in bridges] == [new_id, 104]  # the old one is retried


def test_a_forced_cancel_ends_a_canceling_job_for_a_maintainer(fresh: TestClient) -> None:
    plain = fresh.post(f"{P}/jobs/106/cancel", headers=MAINT)
    by_developer = fresh.post(f"{P}/jobs/106/cancel", params={"force": "true"}, headers=DEV)
    forced = fresh.post(f"{P}/jobs/106/cancel", json={"force": True}, headers=MAINT)

    assert (plain.status_code, plain.json()["status"]) == (201, "canceling")
    assert (by_developer.status_code, by_developer.json()) == (403, {"message": "403 Forbidden"})
    assert (forced.status_code, forced.json()["status"]) == (201, "canceled")


def test_get_job_answers_the_job_of_the_job_token(api: TestClient) -> None:
    found = api.get("/api/v4/job", headers={"JOB-TOKEN": "job-150"})
    by_query = api.get("/api/v4/job", params={"job_token": "job-150"})

    assert (found.status_code, found.json()["id"], found.json()["name"]) == (200, 150, "probe")
    assert found.json()["web_url"] == "http://artifacts.test/conform/app/-/jobs/150"
    assert by_query.json()["id"] == 150


def test_get_job_without_a_job_token(api: TestClient) -> None:
    with_user_token = api.get("/api/v4/job", headers=ROOT)
    anonymous = api.get("/api/v4/job")

    assert (with_user_token.status_code, with_user_token.json()) == (
        404,
        {"message": "404 Job Not Found"},
    )
    assert (anonymous.status_code, anonymous.json()) == (401, {"message": "401 Unauthorized"})
