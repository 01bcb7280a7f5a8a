"""A runner re-sends an upload after a lost answer or a proxy's 5xx (artifacts_uploader.go:
UploadFailed is retried, 3 tries in all). GitLab's CreateService compares the SHA-256 of a
re-sent file with the stored one: the same bytes are a 201, other bytes a 400."""

from __future__ import annotations

from tests.runner.conftest import Runners
from tests.runner.world import token
from tests.support.faults import fault_proxy
from tests.support.runner import (
    ArtifactsOptions,
    RunnerClient,
    UploadState,
    lost_answer,
)
from tests.support.zips import MiB, sample_zip, sized_zip

ARCHIVE = ArtifactsOptions(base_name="artifacts.zip", expire_in="1 week", format="zip",
                           type="archive")  # fmt: skip


def test_a_retried_upload_with_identical_bytes_succeeds(runners: Runners) -> None:
    job_id = runners.job()
    data = sample_zip(seed=41)
    first, _ = runners.runner.upload_raw_artifacts(job_id, token(job_id), [data], ARCHIVE)
    [stored] = runners.rows(job_id)
    objects = runners.storage.stored()
    again, answer = runners.runner.upload_raw_artifacts(job_id, token(job_id), [data], ARCHIVE)
    assert (first, again) == (UploadState.SUCCEEDED, UploadState.SUCCEEDED)
    assert answer.status == 201
    assert runners.rows(job_id) == [stored]  # the first upload's row and objects, untouched
    assert runners.storage.stored() == objects


def test_an_upload_whose_answer_was_lost_is_retried_and_succeeds(runners: Runners) -> None:
    """The first try reaches the server, which stores it, but the connection is cut before
    the runner reads the answer; the runner's next try sends the same archive again."""
    job_id = runners.job()
    data = sized_zip(2 * MiB, seed=42)
    with fault_proxy(runners.server.base_url) as proxy:
        proxy.fail("reset", after=1, answers_only=True)
        cut = RunnerClient(proxy.url)
        states = runners.runner.artifacts_uploader(
            job_id,
            token(job_id),
            lambda: [data],
            ARCHIVE,
            send=lost_answer(
                lambda: cut.upload_raw_artifacts(job_id, token(job_id), [data], ARCHIVE)
            ),
        )
        assert proxy.cuts >= 1
    assert states == [UploadState.FAILED, UploadState.SUCCEEDED]
    assert runners.runner.download_artifacts(job_id, token(job_id)).body == data
    assert len(runners.rows(job_id)) == 1


def test_an_upload_answered_with_a_proxy_5xx_is_retried_and_succeeds(runners: Runners) -> None:
    """A proxy took the upload to the service (201) but answered the runner 502."""
    job_id = runners.job()
    data = sample_zip(seed=43)

    def behind_a_failing_proxy() -> object:
        state, _ = runners.runner.upload_raw_artifacts(job_id, token(job_id), [data], ARCHIVE)
        assert state is UploadState.SUCCEEDED  # what the service said; the proxy said 502
        return state

    states = runners.runner.artifacts_uploader(
        job_id, token(job_id), lambda: [data], ARCHIVE, send=lost_answer(behind_a_failing_proxy)
    )
    assert states == [UploadState.FAILED, UploadState.SUCCEEDED]


def test_different_bytes_for_an_uploaded_type_are_refused_with_gitlabs_message(
    runners: Runners,
) -> None:
    job_id = runners.job()
    first = sample_zip(seed=44)
    runners.runner.upload_raw_artifacts(job_id, token(job_id), [first], ARCHIVE)
    objects = runners.storage.stored()
    state, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [sample_zip(seed=45)], ARCHIVE
    )
    assert (state, answer.status) == (UploadState.FAILED, 400)
    assert answer.json() == {"message": "another artifact of the same type already exists"}
    assert runners.storage.stored() == objects  # the second archive was never stored
    assert runners.runner.download_artifacts(job_id, token(job_id)).body == first
