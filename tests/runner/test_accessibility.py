"""An upload's `accessibility` (and the `artifacts:access` keywords) is stored and decides who
downloads it, as GitLab's Ci::JobArtifactPolicy decides `read_job_artifacts`: `public` for
whoever reads the project's jobs, `private` (access: developer) for developers and up,
`maintainer` for maintainers and up, `none` for nobody. A running job fetching a
dependency is not asked (GitLab's runner route checks the job token alone)."""

from __future__ import annotations

import pytest

from tests.runner.conftest import Runners
from tests.runner.world import ADMIN, DEVELOPER, MAINTAINER, REPORTER, payload, token
from tests.support.runner import ArtifactsOptions, UploadState

CALLERS = {"reporter": REPORTER, "developer": DEVELOPER, "maintainer": MAINTAINER, "admin": ADMIN}
READERS = {
    "public": {"reporter", "developer", "maintainer", "admin"},
    "private": {"developer", "maintainer", "admin"},
    "developer": {"developer", "maintainer", "admin"},  # artifacts:access: developer
    "all": {"reporter", "developer", "maintainer", "admin"},  # artifacts:access: all
    "maintainer": {"maintainer", "admin"},
    "none": set(),
}
STORED = {"developer": "private", "all": "public"}


def upload(runners: Runners, job_id: int, accessibility: str) -> None:
    options = ArtifactsOptions(format="zip", type="archive", accessibility=accessibility)
    state, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload("archive", "zip")], options
    )
    assert state is UploadState.SUCCEEDED, answer.body


@pytest.mark.parametrize("accessibility", list(READERS))
def test_accessibility_is_stored_and_decides_who_downloads(
    runners: Runners, accessibility: str
) -> None:
    job_id, consumer = runners.job(), runners.job()
    upload(runners, job_id, accessibility)
    [row] = runners.rows(job_id)
    assert row["accessibility"] == STORED.get(accessibility, accessibility)
    base = f"/api/v4/projects/1/jobs/{job_id}/artifacts"
    for name, headers in CALLERS.items():
        allowed = name in READERS[accessibility]
        archive = runners.api.get(base, headers=headers)
        member = runners.api.get(f"{base}/README.md", headers=headers)
        assert (archive.status_code, member.status_code) == ((200, 200) if allowed else (403, 403))
        if not allowed:
            assert archive.json() == {"message": "403 Forbidden"}
    # A job that needs this one still gets it, whatever the level.
    dependency = runners.runner.download_artifacts(job_id, token(consumer))
    assert dependency.status == 200


def test_a_job_token_downloads_as_its_user(runners: Runners) -> None:
    """The jobs are `dev`'s, a developer of project 1: private yes, maintainer no."""
    private, maintainer, reader = runners.job(), runners.job(), runners.job()
    upload(runners, private, "private")
    upload(runners, maintainer, "maintainer")
    as_job = {"JOB-TOKEN": token(reader)}
    ok = runners.api.get(f"/api/v4/projects/1/jobs/{private}/artifacts", headers=as_job)
    refused = runners.api.get(f"/api/v4/projects/1/jobs/{maintainer}/artifacts", headers=as_job)
    assert (ok.status_code, refused.status_code) == (200, 403)


def test_anonymous_callers_of_a_public_project_read_only_public_artifacts(
    runners: Runners,
) -> None:
    public, private = runners.job("public"), runners.job("public")
    upload(runners, public, "public")
    upload(runners, private, "private")
    anonymous = [
        runners.api.get(f"/api/v4/projects/4/jobs/{n}/artifacts") for n in (public, private)
    ]
    assert [a.status_code for a in anonymous] == [200, 403]


def test_an_unknown_accessibility_is_a_400(runners: Runners) -> None:
    job_id = runners.job()
    options = ArtifactsOptions(format="zip", type="archive", accessibility="friends")
    state, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload("archive", "zip")], options
    )
    assert (state, answer.status) == (UploadState.FAILED, 400)
    assert answer.json() == {"error": "accessibility does not have a valid value"}
    assert runners.rows(job_id) == []
