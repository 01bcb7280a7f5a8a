"""Every artifact and file response is sandboxed (issue item 8), on a real server: an HTML or
SVG member opened in a browser runs nothing, whatever route served it, in whatever form
(whole, a range, HEAD, 304) and whatever the archive holds.

GitLab's API sends `Content-Security-Policy: default-src 'none'` on every response
(lib/api/api.rb); Workhorse adds nothing for artifact entries (internal/artifacts/entry.go).
Here `sandbox` is added everywhere, since nothing this service serves should run.

Baseline: no Content-Security-Policy at all; HTML and SVG members were protected only by
`Content-Disposition: attachment`.
"""

from __future__ import annotations

import httpx2
import pytest

from tests.edge.conftest import P1, ROOT, SMALL_JOB
from tests.support.processes import ServerProcess

POLICY = "default-src 'none'; sandbox"

# (what, path, extra headers, expected status)
RESPONSES = [
    ("archive by job", f"{P1}/jobs/{SMALL_JOB}/artifacts", {}, 200),
    ("archive range", f"{P1}/jobs/{SMALL_JOB}/artifacts", {"Range": "bytes=0-9"}, 206),
    ("archive by ref", f"{P1}/jobs/artifacts/master/download?job=small", {}, 200),
    ("html by job", f"{P1}/jobs/{SMALL_JOB}/artifacts/index.html", {}, 200),
    ("svg by job", f"{P1}/jobs/{SMALL_JOB}/artifacts/evil.svg", {}, 200),
    ("html range", f"{P1}/jobs/{SMALL_JOB}/artifacts/index.html", {"Range": "bytes=0-7"}, 206),
    ("html by ref", f"{P1}/jobs/artifacts/master/raw/index.html?job=small", {}, 200),
    ("svg by ref", f"{P1}/jobs/artifacts/master/raw/evil.svg?job=small", {}, 200),
    ("folder zip", f"{P1}/jobs/{SMALL_JOB}/artifacts_tree/archive?path=site", {}, 200),
    ("listing", f"{P1}/jobs/{SMALL_JOB}/artifacts/tree", {}, 200),
    ("no such file", f"{P1}/jobs/{SMALL_JOB}/artifacts/nope.html", {}, 404),
]


@pytest.mark.parametrize(
    ("what", "path", "headers", "status"), RESPONSES, ids=[r[0] for r in RESPONSES]
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_every_artifact_response_is_sandboxed(
    server: ServerProcess, what: str, path: str, headers: dict[str, str], status: int, method: str
) -> None:
    response = httpx2.request(
        method, server.base_url + path, headers={**ROOT, **headers}, timeout=10
    )

    assert response.status_code == status, response.text
    assert response.headers["content-security-policy"] == POLICY


def test_a_not_modified_answer_is_sandboxed_too(server: ServerProcess) -> None:
    path = f"{P1}/jobs/{SMALL_JOB}/artifacts/index.html"
    etag = httpx2.get(server.base_url + path, timeout=10).headers["etag"]

    response = httpx2.get(server.base_url + path, headers={"If-None-Match": etag}, timeout=10)

    assert response.status_code == 304
    assert response.headers["content-security-policy"] == POLICY


def test_an_html_member_is_still_an_attachment(server: ServerProcess) -> None:
    response = httpx2.get(
        f"{server.base_url}{P1}/jobs/{SMALL_JOB}/artifacts/index.html", timeout=10
    )

    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
