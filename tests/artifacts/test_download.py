"""Archive downloads (CONTRACT section 7): headers, HEAD, conditionals, ranges, resume, redirect."""

from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx2
import pytest

from tests.artifacts.world import ROOT
from tests.support.service import Service
from tests.support.zips import sample_zip, sized_zip

DISPOSITION = "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip"
ARCHIVE_HEADERS = {
    "content-type", "content-disposition", "content-length", "etag", "last-modified",
    "accept-ranges", "x-request-id", "x-content-type-options", "x-frame-options",
    "vary",  # Origin, as rack-cors says on every /api response (api/cors.py)
    "content-security-policy",  # default-src 'none'; sandbox (api/middleware.py)
}  # fmt: skip


@pytest.fixture
def uploaded(service: Service) -> bytes:
    data = sample_zip(seed=21)
    assert service.upload(100, data).status_code == 201
    return data


def test_archive_headers_are_exactly_the_contracts(service: Service, uploaded: bytes) -> None:
    response = service.download(100, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.content == uploaded
    headers = response.headers
    assert set(headers.keys()) == ARCHIVE_HEADERS  # never a Content-Encoding, nor chunking
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == DISPOSITION
    assert headers["content-length"] == str(len(uploaded))
    assert headers["accept-ranges"] == "bytes"
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert len(headers["etag"]) > 2
    assert parsedate_to_datetime(headers["last-modified"]).tzinfo is not None
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["vary"] == "Origin"
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_head_gives_the_headers_and_no_body(service: Service, uploaded: bytes) -> None:
    get = service.download(100)
    head = service.client.head("/api/v4/projects/1/jobs/100/artifacts", headers=ROOT)
    assert head.status_code == 200
    assert head.content == b""
    for name in ARCHIVE_HEADERS - {"x-request-id"}:
        assert head.headers[name] == get.headers[name], name


def test_if_none_match_gives_304(service: Service, uploaded: bytes) -> None:
    etag = service.download(100).headers["etag"]
    for validator in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = service.download(100, headers={"If-None-Match": validator})
        assert response.status_code == 304, validator
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert "content-encoding" not in response.headers
    changed = service.download(100, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200
    assert changed.content == uploaded


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        pytest.param("bytes=10-99", 10, 99, id="closed"),
        pytest.param("bytes=1000-", 1000, None, id="open-ended"),
        pytest.param("bytes=-100", -100, None, id="suffix"),
        pytest.param("bytes=0-0", 0, 0, id="first-byte"),
        pytest.param("bytes=5-999999999", 5, None, id="end-past-the-size"),
    ],
)
def test_range_gives_206_with_exactly_those_bytes(
    service: Service, uploaded: bytes, header: str, start: int, end: int | None
) -> None:
    size = len(uploaded)
    first = start if start >= 0 else size + start
    last = size - 1 if end is None else end
    response = service.download(100, headers={"Range": header})
    assert response.status_code == 206
    assert response.content == uploaded[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-disposition"] == DISPOSITION
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes={size}-{bigger}", "bytes=-0"])
def test_unsatisfiable_range_is_416_with_the_size(
    service: Service, uploaded: bytes, header: str
) -> None:
    size = len(uploaded)
    value = header.format(size=size, bigger=size + 10)
    response = service.download(100, headers={"Range": value})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


def test_range_with_a_stale_if_range_gets_the_whole_archive(
    service: Service, uploaded: bytes
) -> None:
    whole = service.download(100)
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    for validator in (etag, modified):
        fresh = service.download(100, headers={"Range": "bytes=0-9", "If-Range": validator})
        assert fresh.status_code == 206, validator
        assert fresh.content == uploaded[:10]
    older = "Mon, 01 Jan 2001 00:00:00 GMT"
    dated = service.download(100, headers={"Range": "bytes=0-9", "If-Range": older})
    assert dated.status_code == 200
    assert dated.content == uploaded
    stale = service.download(100, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == uploaded


def test_download_cut_at_a_random_offset_resumes_exactly(
    make_service: Callable[..., Service],
) -> None:
    """A real connection dropped part-way; `Range: bytes=N-` fetches the rest."""
    service = make_service(real=True)
    data = sized_zip(1536 * 1024, seed=22)
    assert service.upload(100, data).status_code == 201
    rng = random.Random()
    for _ in range(3):
        cut = rng.randrange(1, len(data))
        received = bytearray()
        with service.client.stream(
            "GET", "/api/v4/projects/1/jobs/100/artifacts", headers=ROOT
        ) as response:
            assert response.status_code == 200
            etag = response.headers["etag"]
            for chunk in response.iter_raw(8192):
                received += chunk
                if len(received) >= cut:
                    break
        received = received[:cut]
        rest = service.download(100, headers={"Range": f"bytes={cut}-", "If-Range": etag})
        assert rest.status_code == 206, f"cut at {cut}"
        assert rest.headers["content-range"] == f"bytes {cut}-{len(data) - 1}/{len(data)}"
        assert bytes(received) + rest.content == data, f"cut at {cut}"


@pytest.mark.parametrize("storage_url", ["s3"], indirect=True)
def test_redirect_mode_sends_a_presigned_url_with_the_disposition(
    make_service: Callable[..., Service],
) -> None:
    service = make_service(download_mode="redirect")
    data = sample_zip(seed=23)
    assert service.upload(100, data).status_code == 201
    service.finish(100)
    for path in (
        "/api/v4/projects/1/jobs/100/artifacts",
        "/api/v4/projects/1/jobs/artifacts/master/download?job=build",
    ):
        response = service.client.get(path, headers=ROOT, follow_redirects=False)
        assert response.status_code == 302, path
        location = response.headers["location"]
        assert location.startswith(service.storage.endpoint_url or "?")
        assert "X-Amz-Signature=" in location
        followed = httpx2.get(location)
        assert followed.status_code == 200
        assert followed.content == data
        assert followed.headers["content-disposition"] == DISPOSITION


def test_archive_by_project_path_and_not_through_another_project(
    service: Service, uploaded: bytes
) -> None:
    by_path = service.client.get("/api/v4/projects/group%2Fapp/jobs/100/artifacts", headers=ROOT)
    assert by_path.status_code == 200
    assert by_path.content == uploaded
    elsewhere = service.client.get("/api/v4/projects/2/jobs/100/artifacts", headers=ROOT)
    assert elsewhere.status_code == 404
    assert service.download(101).json() == {"message": "404 Not Found"}  # no archive
