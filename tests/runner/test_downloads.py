"""Dependency downloads as artifacts_downloader.go makes them, and the archive's name
(`artifacts:name`) wherever GitLab shows it."""

from __future__ import annotations

from urllib.parse import quote

import httpx2
import pytest

from tests.runner.conftest import Runners
from tests.runner.world import ADMIN, token
from tests.support.documents import job_token
from tests.support.runner import ArtifactsOptions, UploadState
from tests.support.zips import sample_zip


def disposition(name: str) -> str:
    """CONTRACT section 7: an ASCII fallback (`_` for anything else), then RFC 5987."""
    fallback = "".join(ch if " " <= ch <= "~" else "_" for ch in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def upload(runners: Runners, job_id: int, data: bytes, base_name: str) -> None:
    options = ArtifactsOptions(base_name=base_name, expire_in="1 week", format="zip",
                               type="archive")  # fmt: skip
    state, answer = runners.runner.upload_raw_artifacts(job_id, token(job_id), [data], options)
    assert state is UploadState.SUCCEEDED, answer.body


def test_direct_download_in_proxy_mode_is_served_not_redirected(runners: Runners) -> None:
    job_id, consumer = runners.job(), runners.job()
    data = sample_zip(seed=51)
    upload(runners, job_id, data, "artifacts.zip")
    # First try of artifacts-downloader: ?direct_download=true.
    answer = runners.runner.download_artifacts(job_id, token(consumer), direct_download=True)
    assert answer.target == f"/api/v4/jobs/{job_id}/artifacts?direct_download=true"
    assert answer.status == 200
    assert "location" not in answer.headers
    assert answer.body == data


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_direct_download_that_is_no_boolean_is_a_400_in_every_mode(
    runners: Runners, method: str
) -> None:
    # Grape checks `optional :direct_download, type: Boolean` before the endpoint runs, so
    # the proxy mode (which never uses the flag) rejects it too; schemathesis found this.
    job_id, consumer = runners.job(), runners.job()
    upload(runners, job_id, sample_zip(seed=54), "artifacts.zip")
    answer = runners.api.request(
        method,
        f"/api/v4/jobs/{job_id}/artifacts",
        params={"direct_download": "\u0084yes"},
        headers={"Job-Token": token(consumer)},
    )
    assert answer.status_code == 400
    if method == "GET":
        assert answer.json() == {"error": "direct_download is invalid"}


def test_direct_download_redirects_only_in_redirect_mode(runners: Runners) -> None:
    job_id, consumer = runners.job(), runners.job()
    data = sample_zip(seed=52)
    upload(runners, job_id, data, "build-output.zip")
    with runners.other_server(download_mode="redirect") as redirecting:
        raw = httpx2.get(
            f"{redirecting.base_url}/api/v4/jobs/{job_id}/artifacts",
            params={"direct_download": "true"},
            headers={"Job-Token": token(consumer)},
            follow_redirects=False,
        )
        assert raw.status_code == 302
        assert raw.headers["location"].startswith(runners.storage.endpoint_url or "?")
        followed = redirecting.download_artifacts(job_id, token(consumer), direct_download=True)
        # A retry sends no direct_download at all: served by the service itself.
        retried = redirecting.download_artifacts(job_id, token(consumer))
    assert followed.status == 200 and followed.body == data
    assert followed.headers["content-disposition"] == disposition("build-output.zip")
    assert retried.status == 200 and "location" not in retried.headers
    assert retried.body == data


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("build-output.zip", "build-output.zip"),
        ("release 1.2.zip", "release_1.2.zip"),  # CarrierWave's sanitize_regexp
        ("ünïcode-name.zip", "ünïcode-name.zip"),
    ],
)
def test_the_archive_keeps_the_name_it_was_uploaded_with(
    runners: Runners, sent: str, kept: str
) -> None:
    job_id, consumer = runners.job(), runners.job()
    data = sample_zip(seed=53)
    upload(runners, job_id, data, sent)
    body = runners.job_json(job_id)
    assert body["artifacts_file"] == {"filename": kept, "size": len(data)}
    assert [a["filename"] for a in body["artifacts"]] == [kept]
    by_runner = runners.runner.download_artifacts(job_id, job_token(consumer))
    assert runners.runner.update_job(job_id, token(job_id), "success").status == 200
    by_api = runners.api.get(f"/api/v4/projects/1/jobs/{job_id}/artifacts", headers=ADMIN)
    by_ref = runners.api.get(
        "/api/v4/projects/1/jobs/artifacts/runner/download",
        params={"job": f"job-{job_id}"},
        headers=ADMIN,
    )
    assert by_runner.headers["content-disposition"] == disposition(kept)
    assert by_api.headers["content-disposition"] == disposition(kept)
    assert by_ref.status_code == 200
    assert by_ref.headers["content-disposition"] == disposition(kept)
