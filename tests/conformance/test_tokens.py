"""Who a token is, as GitLab decides it: job tokens only where a route accepts them, a job
token never more than its job's user, token scopes, and sudo (lib/api/helpers.rb,
lib/api/api_guard.rb, app/policies/project_policy.rb)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conformance.conftest import DEV, GUEST, OUTSIDER, READ_API, ROOT, ROOT_SUDO, P, ids

JOB_150 = {"JOB-TOKEN": "job-150"}  # project 1, for dev
FRIEND_DEV = {"JOB-TOKEN": "job-140"}  # project 4 (on project 1's allowlist), for dev
FRIEND_OUTSIDER = {"JOB-TOKEN": "job-141"}  # project 4, for a user who is no member of 1
SCOPE_REFUSAL = "403 Forbidden - Authentication by CI/CD job token not allowed from {} to {}."


def test_a_job_token_lists_its_own_projects_jobs_and_pipeline_jobs(api: TestClient) -> None:
    assert 100 in ids(api.get(f"{P}/jobs", headers=JOB_150))
    assert ids(api.get(f"{P}/pipelines/10/jobs", headers=JOB_150))[-1] == 100


@pytest.mark.parametrize(
    "path", [f"{P}/jobs/100", f"{P}/jobs/100/trace", f"{P}/pipelines", f"{P}/pipelines/10"]
)
def test_a_job_token_is_ignored_where_gitlab_does_not_accept_one(
    api: TestClient, path: str
) -> None:
    """GitLab reads CI_JOB_TOKEN only on routes with `job_token_allowed`; elsewhere the caller
    is anonymous: 401 where authentication is required, a private project hidden otherwise."""
    response = api.get(path, headers=JOB_150)

    assert response.status_code == (401 if "/jobs/" in path else 404), response.text


def test_a_job_token_acts_as_its_jobs_user_through_the_allowlist(api: TestClient) -> None:
    assert 100 in ids(api.get(f"{P}/jobs", headers=FRIEND_DEV))


def test_a_job_token_is_never_more_than_its_user(api: TestClient) -> None:
    response = api.get(f"{P}/jobs", headers=FRIEND_OUTSIDER)

    assert (response.status_code, response.json()) == (
        403,
        {"message": SCOPE_REFUSAL.format("friend", "app")},
    )


def test_a_private_project_outside_the_allowlist_refuses_with_gitlabs_text(
    api: TestClient,
) -> None:
    response = api.get("/api/v4/projects/4/jobs", headers=JOB_150)

    assert (response.status_code, response.json()) == (
        403,
        {"message": SCOPE_REFUSAL.format("app", "friend")},
    )


def test_public_pipelines_are_readable_through_any_job_token(api: TestClient) -> None:
    assert ids(api.get("/api/v4/projects/2/jobs", headers=JOB_150)) == [200]
    closed = api.get("/api/v4/projects/3/jobs", headers=JOB_150)
    assert (closed.status_code, closed.json()) == (403, {"message": "403 Forbidden"})


def test_a_job_token_of_a_job_without_a_user_authenticates_nobody(api: TestClient) -> None:
    response = api.get(f"{P}/jobs", headers={"JOB-TOKEN": "job-151"})

    assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})


def test_a_read_api_token_reads_but_never_changes(api: TestClient) -> None:
    read = api.get(f"{P}/jobs/100", headers=READ_API)
    write = api.post(f"{P}/jobs/107/cancel", headers=READ_API)

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json() == {
        "error": "insufficient_scope",
        "error_description": "The request requires higher privileges than provided by the"
        " access token.",
        "scope": "api",
    }
    assert 'error="insufficient_scope"' in write.headers["www-authenticate"]


@pytest.mark.parametrize(("sudo", "username"), [("dev", "dev"), ("4", "dev"), ("guest", "guest")])
def test_sudo_with_an_admins_sudo_token_acts_as_that_user(
    api: TestClient, sudo: str, username: str
) -> None:
    by_query = api.get("/api/v4/user", params={"sudo": sudo}, headers=ROOT_SUDO)
    by_header = api.get("/api/v4/user", headers={**ROOT_SUDO, "Sudo": sudo})

    assert by_query.json()["username"] == by_header.json()["username"] == username


def test_sudo_permissions_are_the_sudoed_users(api: TestClient) -> None:
    as_guest = api.post(f"{P}/jobs/107/cancel", params={"sudo": "guest"}, headers=ROOT_SUDO)

    assert (as_guest.status_code, as_guest.json()) == (403, {"message": "403 Forbidden"})


def test_sudo_is_refused_not_ignored(api: TestClient) -> None:
    not_admin = api.get("/api/v4/user", params={"sudo": "guest"}, headers=DEV)
    no_scope = api.get("/api/v4/user", params={"sudo": "guest"}, headers=ROOT)
    nobody = api.get("/api/v4/user", params={"sudo": "nobody"}, headers=ROOT_SUDO)

    assert (not_admin.status_code, not_admin.json()) == (
        403,
        {"message": "403 Forbidden - Must be admin to use sudo"},
    )
    assert (no_scope.status_code, no_scope.json()["scope"]) == (403, "sudo")
    assert (nobody.status_code, nobody.json()) == (
        404,
        {"message": "404 User with ID or username 'nobody' Not Found"},
    )


def test_guests_read_jobs_and_traces_under_public_pipelines(api: TestClient) -> None:
    assert ids(api.get(f"{P}/pipelines/10/jobs", headers=GUEST))[-1] == 100
    assert api.get(f"{P}/jobs/100/trace", headers=GUEST).status_code == 200


def test_a_project_without_public_pipelines_shows_jobs_to_reporters_only(api: TestClient) -> None:
    outsider = api.get("/api/v4/projects/3/jobs", headers=OUTSIDER)
    pipelines = api.get("/api/v4/projects/3/pipelines", headers=OUTSIDER)
    one_pipeline = api.get("/api/v4/projects/3/pipelines/30", headers=OUTSIDER)
    admin = api.get("/api/v4/projects/3/jobs", headers=ROOT)

    assert (outsider.status_code, pipelines.status_code) == (403, 403)
    assert one_pipeline.status_code == 200  # a public project's pipeline stays readable
    assert ids(admin) == [300]


@pytest.mark.parametrize("action", ["cancel", "retry", "play", "erase", "artifacts/keep"])
def test_a_job_token_changes_nothing(api: TestClient, action: str) -> None:
    """No route that changes a job accepts a CI job token: it is ignored, and the caller is
    anonymous."""
    response = api.post(f"{P}/jobs/102/{action}", headers=JOB_150)

    assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})
