"""`artifacts:expire_in` as the runner sends it (`expire_in=...` in a Go-encoded query, `+`
for spaces) and as GitLab's ChronicDuration reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from artifactsvc.models import parse_time
from tests.runner.conftest import Runners
from tests.runner.world import payload, token
from tests.support.runner import ArtifactsOptions, UploadState

YEAR = timedelta(days=365.25)


def upload(runners: Runners, job_id: int, expire_in: str) -> tuple[UploadState, int]:
    options = ArtifactsOptions(expire_in=expire_in, format="zip", type="archive")
    state, answer = runners.runner.upload_raw_artifacts(
        job_id, token(job_id), [payload("archive", "zip")], options
    )
    return state, answer.status


@pytest.mark.parametrize(
    ("expire_in", "lasts"),
    [
        ("1 week", timedelta(weeks=1)),
        ("week", timedelta(weeks=1)),
        ("one week", timedelta(weeks=1)),
        ("twenty-one days", timedelta(days=21)),
        ("1:30:00", timedelta(hours=1, minutes=30)),
        ("3 mins 4 sec", timedelta(minutes=3, seconds=4)),
        ("2 yrs", 2 * YEAR),
        ("3 weeks, plus 2 days", timedelta(days=23)),
        ("3600", timedelta(hours=1)),
    ],
)
def test_expire_in_is_read_as_gitlab_reads_it(
    runners: Runners, expire_in: str, lasts: timedelta
) -> None:
    job_id = runners.job()
    before = datetime.now(UTC)
    assert upload(runners, job_id, expire_in) == (UploadState.SUCCEEDED, 201)
    expire_at = parse_time(runners.job_json(job_id)["artifacts_expire_at"])
    assert expire_at is not None
    assert before + lasts - timedelta(seconds=5) <= expire_at
    assert expire_at <= datetime.now(UTC) + lasts + timedelta(seconds=5)


def test_never_keeps_the_artifact_forever(runners: Runners) -> None:
    job_id = runners.job()
    assert upload(runners, job_id, "never") == (UploadState.SUCCEEDED, 201)
    assert runners.job_json(job_id)["artifacts_expire_at"] is None


@pytest.mark.parametrize(
    "expire_in",
    ["9" * 400 + " days", "a fortnight", "1 week!", "-1 day", "0", "1000000 years"],
    ids=["huge", "unknown-word", "punctuation", "negative", "zero", "past-any-date"],
)
def test_an_expire_in_gitlab_refuses_is_a_400_and_stores_nothing(
    runners: Runners, expire_in: str
) -> None:
    job_id = runners.job()
    state, status = upload(runners, job_id, expire_in)
    assert (state, status) == (UploadState.FAILED, 400)
    assert runners.rows(job_id) == []
