"""Downloads, single files, uploads and the Jobs API through nginx, in proxy and accel mode.

Every answer through nginx is held against the service's own answer to the same request
(asked of it directly), so what nginx changes shows. In accel mode the bytes must come from
nginx: the service's `artifactsvc_http_response_bytes_total` may not grow by them, and it
asks its store for nothing.
"""

from __future__ import annotations

import httpx2
import pytest

from tests.nginx.conftest import DEFLATED_TEXT, STORED_BYTES, UPLOADED, Stack
from tests.runner.world import ADMIN, token
from tests.support.nginx import have_nginx
from tests.support.runner import ArtifactsOptions, UploadState

pytestmark = pytest.mark.skipif(not have_nginx(), reason="needs Debian's nginx (/usr/sbin/nginx)")

ARCHIVE = f"/api/v4/projects/1/jobs/{UPLOADED}/artifacts"
SENT = "artifactsvc_http_response_bytes_total"
GETS = "artifactsvc_storage_requests_total"
KEPT = (
    "etag",
    "content-disposition",
    "content-type",
    "last-modified",
    "x-content-type-options",
    "x-frame-options",
    "content-security-policy",
)


def direct(stack: Stack, path: str, **headers: str) -> httpx2.Response:
    """The service's own answer (in accel mode: the headers, and no bytes)."""
    return httpx2.get(f"{stack.server.base_url}{path}", headers={**ADMIN, **headers}, timeout=30)


def through(stack: Stack, path: str) -> bytes:
    with stack.client() as client:
        got = client.get(path, headers=ADMIN)
    assert got.status_code == 200, got.text
    return got.content


def test_the_runner_upload_through_nginx_was_stored(stack: Stack) -> None:
    state, answer = stack.upload
    assert state is UploadState.SUCCEEDED, answer.body
    assert answer.request_headers[1] == ("Transfer-Encoding", "chunked")
    assert through(stack, ARCHIVE) == stack.archive


def test_archive_download_keeps_our_headers_and_bytes(stack: Stack) -> None:
    ours = direct(stack, ARCHIVE)
    with stack.client() as client:
        got = client.get(ARCHIVE, headers=ADMIN)
    assert got.status_code == 200
    assert got.content == stack.archive
    assert int(got.headers["content-length"]) == len(stack.archive)
    for name in KEPT:
        assert got.headers.get(name) == ours.headers[name], (name, list(got.headers.items()))
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["accept-ranges"] == "bytes"
    assert "x-accel-redirect" not in got.headers
    leaked = [name for name in got.headers if name.startswith(("x-artifactsvc", "x-amz"))]
    assert not leaked, leaked


def test_archive_range_suffix_and_if_range(stack: Stack) -> None:
    size, etag = len(stack.archive), direct(stack, ARCHIVE).headers["etag"]
    with stack.client() as client:
        part = client.get(ARCHIVE, headers={**ADMIN, "Range": "bytes=10-1009"})
        tail = client.get(ARCHIVE, headers={**ADMIN, "Range": "bytes=-100"})
        pinned = client.get(ARCHIVE, headers={**ADMIN, "Range": "bytes=5-9", "If-Range": etag})
        stale = client.get(ARCHIVE, headers={**ADMIN, "Range": "bytes=5-9", "If-Range": '"old"'})
        past = client.get(ARCHIVE, headers={**ADMIN, "Range": f"bytes={size}-"})
    assert part.status_code == 206
    assert part.content == stack.archive[10:1010]
    assert part.headers["content-range"] == f"bytes 10-1009/{size}"
    assert part.headers["etag"] == etag
    assert tail.status_code == 206 and tail.content == stack.archive[-100:]
    assert pinned.status_code == 206 and pinned.content == stack.archive[5:10]
    assert stale.status_code == 200 and stale.content == stack.archive
    assert past.status_code == 416


def test_archive_head_and_if_none_match(stack: Stack) -> None:
    etag = direct(stack, ARCHIVE).headers["etag"]
    with stack.client() as client:
        head = client.head(ARCHIVE, headers=ADMIN)
        unchanged = client.get(ARCHIVE, headers={**ADMIN, "If-None-Match": etag})
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) == len(stack.archive)
    assert head.headers["etag"] == etag
    assert unchanged.status_code == 304
    assert unchanged.content == b""


def test_refusals_stay_the_services(stack: Stack) -> None:
    with stack.client() as client:
        anonymous = client.get(ARCHIVE)
        missing = client.get("/api/v4/projects/1/jobs/1199/artifacts", headers=ADMIN)
        internal = client.get("/_accel/files/anything", headers=ADMIN)
    assert anonymous.status_code == 404  # a private project, as GitLab hides it
    assert missing.status_code == 404 and missing.json()["message"]
    assert internal.status_code == 404  # nginx's internal locations are not reachable


@pytest.mark.parametrize(("name", "data"), [("app.js", DEFLATED_TEXT), ("blob.bin", STORED_BYTES)])
def test_single_files_deflated_and_stored(stack: Stack, name: str, data: bytes) -> None:
    path = f"{ARCHIVE}/dist/{name}"
    with stack.client() as client:
        whole = client.get(path, headers=ADMIN)
        part = client.get(path, headers={**ADMIN, "Range": "bytes=1000-1999"})
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["etag"] == direct(stack, path).headers["etag"]
    assert part.status_code == 206 and part.content == data[1000:2000]


def test_runner_download_through_nginx(stack: Stack) -> None:
    job = stack.job()
    answer = stack.runner().download_artifacts(UPLOADED, token(job), direct_download=True)
    assert answer.status == 200
    assert answer.body == stack.archive


def test_second_runner_upload_streams_through(stack: Stack) -> None:
    job = stack.job()
    data = stack.archive + b""  # the same bytes, another job
    chunks = [data[at : at + 7000] for at in range(0, len(data), 7000)]
    state, answer = stack.runner().upload_raw_artifacts(job, token(job), chunks, ArtifactsOptions())
    assert state is UploadState.SUCCEEDED, answer.body
    assert through(stack, f"/api/v4/projects/1/jobs/{job}/artifacts") == data


def test_jobs_api_links_and_web_urls_name_nginx(stack: Stack) -> None:
    with stack.client() as client:
        page = client.get("/api/v4/projects/1/jobs", params={"per_page": 1}, headers=ADMIN)
        one = client.get(f"/api/v4/projects/1/jobs/{UPLOADED}", headers=ADMIN)
    assert page.status_code == 200
    assert page.headers["link"].startswith(f"<{stack.nginx.base_url}/api/v4/projects/1/jobs?")
    assert 'rel="next"' in page.headers["link"]
    assert one.json()["web_url"].startswith(f"{stack.nginx.base_url}/")
    assert one.json()["artifacts_file"]["filename"] == "artifacts.zip"


def test_accel_mode_leaves_the_bytes_to_nginx(stack: Stack) -> None:
    sent, gets = stack.metric(SENT), stack.metric(GETS, verb="get")
    with stack.client() as client:
        got = client.get(ARCHIVE, headers=ADMIN)
        ranged = client.get(ARCHIVE, headers={**ADMIN, "Range": "bytes=100-"})
    assert got.content == stack.archive
    assert ranged.content == stack.archive[100:]
    grew = stack.metric(SENT) - sent
    asked = stack.metric(GETS, verb="get") - gets
    if stack.mode == "accel":
        # What grew is the first /metrics answer (counted once sent): not two archives.
        assert grew < len(stack.archive) / 4, grew
        assert asked == 0
    else:
        assert grew >= 2 * len(stack.archive) - 100
        assert asked >= 2


def test_ranges_of_stored_members_are_offloaded_where_the_store_allows(stack: Stack) -> None:
    """S3 in accel mode: nginx fetches the slice of the archive that holds the range, and the
    answer speaks of the member (its Content-Range, type and ETag). Local files cannot be
    ranged inside the archive by nginx, and whole members need a 200: the service sends."""
    path = f"{ARCHIVE}/dist/blob.bin"
    ours = direct(stack, path, Range="bytes=1000-200999")
    sent = stack.metric(SENT)
    with stack.client() as client:
        part = client.get(path, headers={**ADMIN, "Range": "bytes=1000-200999"})
    grew = stack.metric(SENT) - sent
    assert part.status_code == 206
    assert part.content == STORED_BYTES[1000:201000]
    assert part.headers["content-range"] == f"bytes 1000-200999/{len(STORED_BYTES)}"
    for name in ("etag", "content-type", "content-disposition", "content-security-policy"):
        assert part.headers[name] == ours.headers[name], name
    offloaded = stack.store == "s3" and stack.mode == "accel"
    assert (grew < 100_000) is offloaded, grew
    sent = stack.metric(SENT)
    with stack.client() as client:
        assert client.get(path, headers=ADMIN).content == STORED_BYTES
    assert stack.metric(SENT) - sent >= len(STORED_BYTES)


def _uploaded(stack: Stack) -> tuple[int, str]:
    """A fresh job with the archive, and the key its archive is stored under."""
    job = stack.job()
    before = set(stack.storage.stored())
    state, answer = stack.runner().upload_raw_artifacts(
        job, token(job), [stack.archive], ArtifactsOptions()
    )
    assert state is UploadState.SUCCEEDED, answer.body
    new = [k for k in set(stack.storage.stored()) - before if not k.endswith(".index")]
    assert len(new) == 1, new
    return job, new[0].removeprefix(stack.storage.name(""))


def test_a_missing_archive_object_is_refused_with_our_json(stack: Stack) -> None:
    """404, as the service answers; except that nginx fetching from S3 may hear 403 for a
    missing key (S3 says 404 only to whoever may list the bucket, moto says 403), which it
    cannot tell from an expired URL: 503 then. Never S3's XML."""
    job, key = _uploaded(stack)
    stack.storage.remove(key)
    with stack.client() as client:
        got = client.get(f"/api/v4/projects/1/jobs/{job}/artifacts", headers=ADMIN)
    allowed = {404: "404 Not Found"}
    if stack.store == "s3" and stack.mode == "accel":
        allowed[503] = "503 Service Unavailable"
    assert got.status_code in allowed, got.text
    assert got.json() == {"message": allowed[got.status_code]}


def test_an_archive_changed_behind_the_services_back_is_not_sent(stack: Stack) -> None:
    if stack.store != "s3":
        pytest.skip("local files are immutable under their keys; nginx cannot pin a file")
    job, key = _uploaded(stack)
    stack.storage.put(key, b"other bytes " * 100)
    with stack.client() as client:
        got = client.get(f"/api/v4/projects/1/jobs/{job}/artifacts", headers=ADMIN)
    assert got.status_code == 503
    assert got.json() == {"message": "503 Service Unavailable"}
    assert b"other bytes" not in got.content
