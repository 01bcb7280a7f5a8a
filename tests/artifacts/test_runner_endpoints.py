"""Runner endpoints besides the upload: dependency downloads, trace appends, job updates."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from tests.artifacts.world import P1, ROOT, token
from tests.support.service import Service
from tests.support.zips import sample_zip

DISPOSITION = "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip"


@pytest.fixture
def uploaded(service: Service) -> bytes:
    data = sample_zip(seed=31)
    assert service.upload(100, data).status_code == 201
    return data


@pytest.mark.parametrize("caller", [101, 200], ids=["same-project", "allowlisted-project"])
def test_running_job_downloads_a_dependencys_archive(
    service: Service, uploaded: bytes, caller: int
) -> None:
    response = service.client.get("/api/v4/jobs/100/artifacts", headers=token(caller))
    assert response.status_code == 200
    assert response.content == uploaded
    assert response.headers["content-disposition"] == DISPOSITION
    assert response.headers["content-length"] == str(len(uploaded))
    by_query = service.client.get("/api/v4/jobs/100/artifacts", params={"token": f"job-{caller}"})
    assert by_query.content == uploaded


def test_dependency_download_from_a_project_not_allowlisted_is_403(
    service: Service, uploaded: bytes
) -> None:
    response = service.client.get("/api/v4/jobs/100/artifacts", headers=token(300))
    assert response.status_code == 403
    assert response.json() == {"message": "403 Forbidden"}


def test_dependency_download_without_a_token_is_401(service: Service, uploaded: bytes) -> None:
    response = service.client.get("/api/v4/jobs/100/artifacts")
    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}


@pytest.mark.parametrize("headers", [{"JOB-TOKEN": "nope"}, token(102)], ids=["unknown", "done"])
def test_dependency_download_with_a_dead_token_is_401(
    service: Service, uploaded: bytes, headers: dict[str, str]
) -> None:
    assert service.client.get("/api/v4/jobs/100/artifacts", headers=headers).status_code == 401


def test_dependency_download_of_a_job_without_an_archive_is_404(service: Service) -> None:
    assert service.client.get("/api/v4/jobs/101/artifacts", headers=token(100)).status_code == 404
    assert service.client.get("/api/v4/jobs/999/artifacts", headers=token(100)).status_code == 404


def test_direct_download_in_proxy_mode_is_served(service: Service, uploaded: bytes) -> None:
    """Runners ask for direct_download=true on every first try; GitLab redirects only when
    object storage is not proxied (`direct_download_enabled?`). Until this change the
    service redirected to S3 in proxy mode too."""
    response = service.client.get(
        "/api/v4/jobs/100/artifacts",
        params={"direct_download": "true"},
        headers=token(101),
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert response.content == uploaded
    assert response.headers["content-disposition"] == DISPOSITION


@pytest.mark.parametrize("storage_url", ["s3"], indirect=True)
def test_direct_download_in_redirect_mode_redirects_to_storage(
    make_service: Callable[..., Service],
) -> None:
    service = make_service(download_mode="redirect")
    data = sample_zip(seed=31)
    assert service.upload(100, data).status_code == 201
    response = service.client.get(
        "/api/v4/jobs/100/artifacts",
        params={"direct_download": "true"},
        headers=token(101),
        follow_redirects=False,
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(service.storage.endpoint_url or "?")
    followed = httpx2.get(location)
    assert followed.status_code == 200
    assert followed.content == data
    assert followed.headers["content-disposition"] == DISPOSITION


def patch_trace(service: Service, job_id: int, start: int, data: bytes) -> httpx2.Response:
    return service.client.patch(
        f"/api/v4/jobs/{job_id}/trace",
        content=data,
        headers={**token(job_id), "Content-Range": f"{start}-{start + len(data) - 1}",
                 "Content-Type": "text/plain"},
    )  # fmt: skip


def test_trace_appends_with_content_range(service: Service) -> None:
    first = patch_trace(service, 100, 0, b"hello")
    assert first.status_code == 202
    assert first.headers["range"] == "0-5"
    assert first.headers["job-status"] == "running"
    second = patch_trace(service, 100, 5, b" world\n")
    assert second.status_code == 202
    assert second.headers["range"] == "0-12"
    trace = service.client.get(f"{P1}/jobs/100/trace", headers=ROOT)
    assert trace.content == b"hello world\n"


@pytest.mark.parametrize("start", [0, 5, 13])
def test_trace_append_not_at_the_current_size_is_416(service: Service, start: int) -> None:
    assert patch_trace(service, 100, 0, b"hello world\n").status_code == 202
    response = patch_trace(service, 100, start, b"again")
    assert response.status_code == 416
    assert response.headers["range"] == "0-12"
    assert response.headers["job-status"] == "running"
    trace = service.client.get(f"{P1}/jobs/100/trace", headers=ROOT)
    assert trace.content == b"hello world\n"


def test_a_long_log_is_served_whole_and_streamed(service: Service) -> None:
    """Three pieces of 600 KiB: more than one read of pieces (LOG_PIECES_A_READ), served
    with its length, byte for byte."""
    pieces = [bytes([48 + n]) * (600 << 10) for n in range(3)]
    for n, piece in enumerate(pieces):
        assert patch_trace(service, 100, n * len(piece), piece).status_code == 202
    trace = service.client.get(f"{P1}/jobs/100/trace", headers=ROOT)
    assert trace.status_code == 200
    assert trace.headers["content-length"] == str(3 * (600 << 10))
    assert trace.content == b"".join(pieces)


def test_trace_append_without_content_range_is_gitlabs_400(service: Service) -> None:
    """lib/api/ci/runner.rb: `error!('400 Missing header Content-Range', 400)`, before the
    piece is read; nothing is appended."""
    assert patch_trace(service, 100, 0, b"hello").status_code == 202
    response = service.client.patch(
        "/api/v4/jobs/100/trace", content=b" world", headers={**token(100)}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "400 Missing header Content-Range"}
    trace = service.client.get(f"{P1}/jobs/100/trace", headers=ROOT)
    assert trace.content == b"hello"


@pytest.mark.parametrize(
    ("content_range", "start"),
    [("abc-4", 0), ("bytes 0-4", 0), ("", 0), ("0", 0), (" 5-9", 5), ("+5-9", 5),
     ("5abc-9", 5), ("bytes 5-9", 0)],
)  # fmt: skip
def test_a_content_range_start_is_read_as_gitlabs_to_i(
    service: Service, content_range: str, start: int
) -> None:
    """AppendBuildTraceService: `content_range.split('-')[0].to_i`, so a start that is no
    number is 0 rather than a 400: appended to an empty log, a 416 past it."""
    assert patch_trace(service, 100, 0, b"hello").status_code == 202
    response = service.client.patch(
        "/api/v4/jobs/100/trace",
        content=b" world",
        headers={**token(100), "Content-Range": content_range},
    )
    if start == 5:
        assert response.status_code == 202, response.text
        assert response.headers["range"] == "0-11"
        expected = b"hello world"
    else:
        assert response.status_code == 416, response.text
        assert response.headers["range"] == "0-5"
        expected = b"hello"
    trace = service.client.get(f"{P1}/jobs/100/trace", headers=ROOT)
    assert trace.content == expected
    # On an empty log, the same header appends at 0 when its start reads as 0.
    fresh = service.client.patch(
        "/api/v4/jobs/101/trace",
        content=b"first",
        headers={**token(101), "Content-Range": content_range},
    )
    assert fresh.status_code == (202 if start == 0 else 416), fresh.text


def test_a_log_past_max_trace_size_is_refused_and_fails_the_job(
    make_service: Callable[..., Service],
) -> None:
    """GitLab's AppendBuildTraceService: the piece that would end past the limit is not
    stored, the answer is `403 Forbidden`, and the job is dropped (`trace_size_exceeded`);
    the runner then stops sending its log (network/gitlab.go: 403 aborts)."""
    service = make_service(max_trace_size=10)
    assert patch_trace(service, 100, 0, b"123456").status_code == 202
    refused = patch_trace(service, 100, 6, b"78901")
    assert refused.status_code == 403
    assert refused.json() == {"message": "403 Forbidden"}
    trace = service.client.get(f"{P1}/jobs/100/trace", headers=ROOT)
    assert trace.content == b"123456"
    job = service.client.get(f"{P1}/jobs/100", headers=ROOT).json()
    assert (job["status"], job["failure_reason"]) == ("failed", "trace_size_exceeded")
    assert patch_trace(service, 100, 6, b"7").status_code == 403  # no longer running


def test_trace_append_needs_this_running_jobs_token(service: Service) -> None:
    response = service.client.patch(
        "/api/v4/jobs/100/trace", content=b"x", headers={**token(101), "Content-Range": "0-0"}
    )
    assert response.status_code == 403
    assert patch_trace(service, 102, 0, b"late").status_code == 403


def test_job_update_finishes_the_job_and_retires_its_token(service: Service) -> None:
    response = service.client.put(
        "/api/v4/jobs/100", json={"token": "job-100", "state": "failed",
                                  "failure_reason": "script_failure"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json() == {"id": 100, "status": "failed"}
    body = service.job(100)
    assert body["status"] == "failed"
    assert body["failure_reason"] == "script_failure"
    assert body["finished_at"] is not None
    # The token died with the job.
    assert service.upload(100, sample_zip(seed=32)).status_code == 403
    assert patch_trace(service, 100, 0, b"more").status_code == 403
    again = service.client.put("/api/v4/jobs/100", json={"token": "job-100", "state": "success"})
    assert again.status_code == 403
    assert service.rows() == []


def test_job_update_accepts_a_form_and_running_keeps_the_token(service: Service) -> None:
    still = service.client.put("/api/v4/jobs/101", data={"token": "job-101", "state": "running"})
    assert still.status_code == 200
    assert still.json()["status"] == "running"
    assert service.upload(101, sample_zip(seed=33)).status_code == 201
    done = service.client.put("/api/v4/jobs/101", data={"token": "job-101", "state": "success"})
    assert done.status_code == 200
    assert service.job(101)["status"] == "success"


def test_job_update_with_a_bad_state_or_token(service: Service) -> None:
    bad = service.client.put("/api/v4/jobs/100", json={"token": "job-100", "state": "exploded"})
    assert bad.status_code == 400
    wrong = service.client.put("/api/v4/jobs/100", json={"token": "job-101", "state": "success"})
    assert wrong.status_code == 403
    assert service.job(100)["status"] == "running"
