"""A 405 names every method the path is served with, and `/metrics` can require a token
(issue item 10), on a real server.

Baseline: a 405 advertised the methods of the first route that matched the path only
(`POST .../jobs/:id/artifacts` said `GET, HEAD`, though `DELETE` is served there too);
`/metrics` was open to anyone, with no option to close it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from tests.edge.conftest import P1, SMALL_JOB, Edge
from tests.support.processes import ServerProcess

METRICS_TOKEN = "metrics-secret-4b1e"

# (method, path, the Allow header expected)
WRONG_METHODS = [
    ("POST", f"{P1}/jobs/{SMALL_JOB}/artifacts", "DELETE, GET, HEAD"),
    ("PUT", "/api/v4/jobs/100/artifacts", "GET, HEAD, POST"),
    # `keep` is also a file name the file route serves.
    ("DELETE", f"{P1}/jobs/{SMALL_JOB}/artifacts/keep", "GET, HEAD, POST"),
    ("DELETE", f"{P1}/jobs/{SMALL_JOB}/artifacts/tree", "GET, HEAD"),
    ("GET", "/api/v4/jobs/100", "PUT"),
    ("POST", "/-/readiness", "GET, HEAD"),
    ("PATCH", f"{P1}/artifacts", "DELETE"),
]


@pytest.mark.parametrize(("method", "path", "allow"), WRONG_METHODS)
def test_a_405_allows_every_method_of_every_route_at_the_path(
    server: ServerProcess, method: str, path: str, allow: str
) -> None:
    response = httpx2.request(method, server.base_url + path, timeout=10)

    assert (response.status_code, response.json()) == (405, {"error": "405 Not Allowed"})
    assert response.headers["allow"] == allow


def test_metrics_are_open_without_a_token_setting(server: ServerProcess) -> None:
    response = httpx2.get(f"{server.base_url}/metrics", timeout=10)

    assert response.status_code == 200
    assert "artifactsvc_http_requests_total" in response.text


@pytest.fixture(scope="module")
def guarded(edge: Edge) -> Iterator[ServerProcess]:
    with edge.serve(metrics_token=METRICS_TOKEN) as server:
        yield server


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"PRIVATE-TOKEN": METRICS_TOKEN},
    ],
    ids=["none", "wrong", "not-bearer", "longer", "private-token"],
)
def test_metrics_with_a_token_setting_refuse_anything_else(
    guarded: ServerProcess, headers: dict[str, str]
) -> None:
    response = httpx2.get(f"{guarded.base_url}/metrics", headers=headers, timeout=10)

    assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "artifactsvc_http" not in response.text


def test_metrics_with_a_token_setting_answer_that_bearer_token(guarded: ServerProcess) -> None:
    response = httpx2.get(
        f"{guarded.base_url}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=10,
    )

    assert response.status_code == 200
    assert "artifactsvc_http_requests_total" in response.text
    assert METRICS_TOKEN not in guarded.log.read_text()
