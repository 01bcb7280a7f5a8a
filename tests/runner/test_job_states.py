"""What a runner's job token may still do, and what a refusal tells it (GitLab's
`authenticate_job!` in lib/api/ci/helpers/runner.rb): a job being canceled gracefully
(`canceling`) keeps its token for the log, the artifacts and the final update; a job that
is neither running nor canceling gets a 403 with `Job-Status`, which gitlab-runner reads to
stop (network/remote_job_state_response.go)."""

from __future__ import annotations

from tests.runner.conftest import Runners
from tests.runner.world import ADMIN, payload, token
from tests.support.runner import ArtifactsOptions, UploadState

ARCHIVE = ArtifactsOptions(expire_in="1 week", format="zip", type="archive")
NOT_PROCESSING = {"message": "403 Forbidden - Job is not processing on runner"}


def test_a_canceling_job_keeps_its_token_for_trace_upload_and_the_final_update(
    runners: Runners,
) -> None:
    job_id = runners.job("canceling")
    patched = runners.runner.patch_trace(job_id, token(job_id), b"cleaning up\n", 0)
    assert patched.status == 202
    assert patched.headers["job-status"] == "canceling"  # the runner's IsCanceled()
    state, _ = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload("archive", "zip")], ARCHIVE
    )
    assert state is UploadState.SUCCEEDED
    done = runners.runner.update_job(job_id, token(job_id), "failed", failure_reason="job_canceled")
    assert done.status == 200
    # CommitStatus: a canceling job ends canceled, whatever its runner reports.
    assert done.headers["job-status"] == "canceled"
    body = runners.job_json(job_id)
    assert body["status"] == "canceled"
    assert "failure_reason" not in body
    assert [a["file_type"] for a in body["artifacts"]] == ["archive"]
    trace = runners.api.get(f"/api/v4/projects/1/jobs/{job_id}/trace", headers=ADMIN)
    assert trace.text == "cleaning up\n"


def test_a_finished_jobs_token_gets_a_403_that_carries_its_status(runners: Runners) -> None:
    job_id = runners.job()
    assert runners.runner.update_job(job_id, token(job_id), "success").status == 200
    answers = [
        runners.runner.patch_trace(job_id, token(job_id), b"late\n", 0),
        runners.runner.upload_raw_artifacts(
            job_id, token(job_id), [payload("archive", "zip")], ARCHIVE
        )[1],
        runners.runner.update_job(job_id, token(job_id), "success"),
    ]
    for answer in answers:
        assert answer.status == 403
        assert answer.headers["job-status"] == "success"
        assert answer.json() == NOT_PROCESSING
    assert runners.rows(job_id) == []


def test_another_jobs_token_gets_a_plain_403_without_a_status(runners: Runners) -> None:
    job_id, other = runners.job(), runners.job()
    answer = runners.runner.patch_trace(job_id, token(other), b"x", 0)
    assert answer.status == 403
    assert "job-status" not in answer.headers
    assert answer.json() == {"message": "403 Forbidden"}


def test_the_trace_update_interval_is_gitlabs_default(runners: Runners) -> None:
    job_id = runners.job()
    first = runners.runner.patch_trace(job_id, token(job_id), b"hello ", 0)
    second = runners.runner.patch_trace(job_id, token(job_id), b"world\n", 6)
    assert (first.status, second.status) == (202, 202)
    assert second.headers["range"] == "0-12"
    # Gitlab::Ci::Trace::UPDATE_FREQUENCY_DEFAULT: 60 s unless watched in GitLab's UI.
    assert first.headers["x-gitlab-trace-update-interval"] == "60"
    assert second.headers["x-gitlab-trace-update-interval"] == "60"
    mismatch = runners.runner.patch_trace(job_id, token(job_id), b"again", 3)
    assert mismatch.status == 416
    assert mismatch.headers["range"] == "0-12"


def test_a_running_jobs_final_update_finishes_it(runners: Runners) -> None:
    job_id = runners.job()
    answer = runners.runner.update_job(
        job_id, token(job_id), "failed", failure_reason="script_failure", exit_code=1
    )
    assert answer.status == 200
    assert answer.headers["job-status"] == "failed"
    body = runners.job_json(job_id)
    assert (body["status"], body["failure_reason"]) == ("failed", "script_failure")
