"""Operations (CONTRACT sections 4 and 6): probes, the headers every response carries, and
logs that never hold a token. Probes and headers are checked in-process and on a real server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import pytest
from starlette.testclient import TestClient

from tests.support.apps import app_client, app_settings, import_document
from tests.support.database import POSTGRES_URL, execute, postgres_schema
from tests.support.documents import job, pipeline, project, user
from tests.support.faults import FaultProxy
from tests.support.processes import server_process

ROOT_TOKEN = "glpat-root-3b1f0c9e7d"
JOB_TOKEN = "job-token-5e2a8c41f6"
GUEST_TOKEN = "glpat-guest-8d2e41a6b0"
P = "/api/v4/projects/foo%2Fbar"


def world() -> dict[str, Any]:
    return {
        "users": [
            user(1, "root", admin=True, tokens=(ROOT_TOKEN,)),
            user(2, "guest", tokens=(GUEST_TOKEN,)),
        ],
        "projects": [project(1, "foo/bar", members={"guest": 10})],
        "pipelines": [pipeline(6, 1)],
        "jobs": [
            job(7, 6, "failed", trace="log\n"),
            job(8, 6, "running", token=JOB_TOKEN),
            job(66, 6, "success"),  # its row gets damaged below: reading it is a 500
        ],
    }


def damage_job_66(sqlite_url: str) -> None:
    """A row the code cannot parse: the only honest way to reach an unexpected failure."""
    execute(sqlite_url, "UPDATE jobs SET created_at = 'not a time' WHERE id = 66")


def assert_edge_headers(response: httpx2.Response, request_id: str | None = None) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    if request_id is None:
        assert len(response.headers["x-request-id"]) >= 8
    else:
        assert response.headers["x-request-id"] == request_id


# (what, method, path, headers, expected status)
RESPONSES = [
    ("liveness", "GET", "/-/liveness", {}, 200),
    ("readiness", "GET", "/-/readiness", {}, 200),
    ("jobs", "GET", f"{P}/jobs?scope=failed", {"PRIVATE-TOKEN": ROOT_TOKEN}, 200),
    ("trace", "GET", f"{P}/jobs/7/trace", {"PRIVATE-TOKEN": ROOT_TOKEN}, 200),
    ("bad request", "GET", f"{P}/jobs?page=0", {"PRIVATE-TOKEN": ROOT_TOKEN}, 400),
    ("anonymous", "GET", f"{P}/jobs", {}, 401),
    ("bad token", "GET", f"{P}/jobs", {"PRIVATE-TOKEN": "nope"}, 401),
    ("forbidden", "POST", f"{P}/jobs/7/retry", {"PRIVATE-TOKEN": GUEST_TOKEN}, 403),
    ("no project", "GET", "/api/v4/projects/9/jobs", {"PRIVATE-TOKEN": ROOT_TOKEN}, 404),
    ("no route", "GET", "/api/v4/nope", {}, 404),
    ("wrong method", "DELETE", f"{P}/jobs/7", {"PRIVATE-TOKEN": ROOT_TOKEN}, 405),
    ("crash", "GET", f"{P}/jobs/66", {"PRIVATE-TOKEN": ROOT_TOKEN}, 500),
]
RESPONSE_IDS = [r[0] for r in RESPONSES]
EDGE_CASE = ("what", "method", "path", "headers", "status")


@pytest.fixture
def api(
    sqlite_url: str, seed: Callable[[str, dict[str, Any]], None],
    make_client: Callable[..., TestClient],
) -> TestClient:  # fmt: skip
    seed(sqlite_url, world())
    damage_job_66(sqlite_url)
    return make_client(sqlite_url)


@pytest.mark.parametrize(EDGE_CASE, RESPONSES, ids=RESPONSE_IDS)
def test_every_response_carries_the_edge_headers(
    api: TestClient, what: str, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    generated = api.request(method, path, headers=headers)
    request_id = f"req-{what.replace(' ', '-')}"
    echoed = api.request(method, path, headers={**headers, "X-Request-Id": request_id})

    assert (generated.status_code, echoed.status_code) == (status, status)
    assert_edge_headers(generated)
    assert_edge_headers(echoed, request_id)


def test_each_request_gets_its_own_request_id(api: TestClient) -> None:
    seen = {api.get("/-/liveness").headers["x-request-id"] for _ in range(5)}

    assert len(seen) == 5


@pytest.mark.parametrize("unsafe", ["has space", "x" * 500, "new\tline", "<script>"])
def test_an_unsafe_request_id_is_replaced(api: TestClient, unsafe: str) -> None:
    response = api.get("/-/liveness", headers={"X-Request-Id": unsafe})

    assert response.headers["x-request-id"] not in ("", unsafe)


def test_an_unexpected_failure_is_gitlabs_500(api: TestClient) -> None:
    response = api.get(f"{P}/jobs/66", headers={"PRIVATE-TOKEN": ROOT_TOKEN})

    assert (response.status_code, response.json()) == (
        500, {"message": "500 Internal Server Error"},
    )  # fmt: skip
    assert "Traceback" not in response.text


def test_liveness_and_readiness_answer_on_both_stores(
    database_url: str, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(database_url)

    live = client.get("/-/liveness")
    ready = client.get("/-/readiness")

    assert (live.status_code, ready.status_code) == (200, 200)


def test_metrics_count_requests_in_prometheus_text(api: TestClient) -> None:
    api.get("/api/v4/nope")

    response = api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'artifactsvc_http_requests_total{method="GET",status="4xx"}' in response.text


def test_openapi_document_lists_every_route_that_is_served(api: TestClient) -> None:
    document = api.get("/openapi.json").json()

    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    expected = {
        ("/api/v4/projects/{id}/jobs", "get"),
        ("/api/v4/projects/{id}/jobs/{job_id}/retry", "post"),
        ("/api/v4/projects/{id}/jobs/{job_id}/artifacts", "delete"),
        ("/api/v4/projects/{id}/jobs/{job_id}/artifacts/{artifact_path}", "get"),
        ("/api/v4/projects/{id}/jobs/{job_id}/artifacts_tree", "get"),
        ("/api/v4/jobs/{id}/artifacts", "post"),
        ("/api/v4/jobs/{id}/trace", "patch"),
        ("/-/readiness", "get"),
    }
    assert {(path, method) for path, method in expected if method in paths.get(path, {})} == (
        expected
    )
    operation_ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    # Nothing documented that the app does not answer (405 would mean a wrong method).
    assert api.post("/api/v4/projects/1/jobs").status_code == 405
    assert "post" not in paths["/api/v4/projects/{id}/jobs"]


def test_readiness_is_503_when_the_sqlite_file_is_damaged(api: TestClient, sqlite_url: str) -> None:
    assert api.get("/-/readiness").status_code == 200
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    for path in database.parent.glob(f"{database.name}*"):  # the file, its -wal and -shm
        path.write_bytes(b"this is not a database\n" * 1000)

    ready = api.get("/-/readiness")
    jobs = api.get(f"{P}/jobs", headers={"PRIVATE-TOKEN": ROOT_TOKEN})

    assert ready.status_code == 503
    assert ready.json()["checks"]["metadata"] == "failed"
    assert (jobs.status_code, jobs.json()) == (503, {"message": "503 Service Unavailable"})
    assert api.get("/-/liveness").status_code == 200


@pytest.fixture
def proxied_postgres() -> Iterator[tuple[str, FaultProxy]]:
    """A fresh PostgreSQL schema reached through a FaultProxy; yields (url, proxy)."""
    target = urlsplit(POSTGRES_URL)
    proxy = FaultProxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxy.start()
    with postgres_schema() as url:
        parts = urlsplit(url)
        netloc = parts.netloc.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
        try:
            yield urlunsplit(parts._replace(netloc=netloc)), proxy
        finally:
            proxy.stop()


def test_readiness_is_503_while_postgresql_is_unreachable_and_recovers(
    proxied_postgres: tuple[str, FaultProxy], tmp_path: Path
) -> None:
    url, proxy = proxied_postgres
    with app_client(app_settings(url, tmp_path / "objects")) as client:
        assert client.get("/-/readiness").status_code == 200

        proxy.stop()
        started = time.monotonic()
        down = client.get("/-/readiness")
        elapsed = time.monotonic() - started
        live = client.get("/-/liveness")

        proxy.start()
        deadline = time.monotonic() + 30
        while (back := client.get("/-/readiness")).status_code != 200:
            assert time.monotonic() < deadline, back.text
            time.sleep(0.2)

    assert down.status_code == 503
    assert elapsed < 8  # the probe's own timeout (5 s), never the pool's
    assert down.json()["checks"]["metadata"] == "failed"
    assert_edge_headers(down)
    assert live.status_code == 200  # the process still serves


# -- a real server process -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`artifactsvc serve` over a seeded SQLite file; yields (base URL, its log file)."""
    directory = tmp_path_factory.mktemp("ops-server")
    url = f"sqlite:///{directory}/meta.db"
    import_document(url, world(), directory)
    damage_job_66(url)
    env = {"ARTIFACTSVC_DATABASE_URL": url, "ARTIFACTSVC_STORAGE_URL": str(directory / "objects")}
    with server_process(env, cwd=directory) as server:
        yield server.base_url, server.log


def read_log(log: Path, request_id: str) -> str:
    """The server's log once it holds the request's access line, the last thing it logs
    about a request (and written after the reply, hence the wait)."""
    marker = f"artifactsvc.access: {request_id} "
    deadline = time.monotonic() + 10
    while marker not in (text := log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{request_id} never logged"
        time.sleep(0.05)
    return text


@pytest.mark.parametrize(EDGE_CASE, RESPONSES, ids=RESPONSE_IDS)
def test_a_real_server_sends_the_edge_headers(
    server: tuple[str, Path], what: str, method: str, path: str, headers: dict[str, str],
    status: int,
) -> None:  # fmt: skip
    base, _ = server
    request_id = f"real-{what.replace(' ', '-')}"

    response = httpx2.request(
        method, base + path, headers={**headers, "X-Request-Id": request_id}, timeout=10
    )

    assert response.status_code == status
    assert_edge_headers(response, request_id)


def test_a_real_server_logs_the_traceback_of_a_500(server: tuple[str, Path]) -> None:
    base, log = server

    response = httpx2.get(
        f"{base}{P}/jobs/66",
        headers={"PRIVATE-TOKEN": ROOT_TOKEN, "X-Request-Id": "crash-trace-1"},
        timeout=10,
    )

    assert (response.status_code, response.json()) == (
        500, {"message": "500 Internal Server Error"},
    )  # fmt: skip
    text = read_log(log, "crash-trace-1")
    assert "Traceback (most recent call last)" in text
    assert "not a time" in text


def test_a_real_server_web_urls_use_external_url(server: tuple[str, Path]) -> None:
    base, _ = server

    body = httpx2.get(f"{base}{P}/jobs/7", headers={"PRIVATE-TOKEN": ROOT_TOKEN}, timeout=10)

    assert body.json()["web_url"] == f"{base}/foo/bar/-/jobs/7"


@pytest.mark.parametrize(
    ("transport", "query", "headers"),
    [
        ("private_token-query", {"private_token": ROOT_TOKEN}, {}),
        ("private-token-header", {}, {"PRIVATE-TOKEN": ROOT_TOKEN}),
        ("bearer", {}, {"Authorization": f"Bearer {ROOT_TOKEN}"}),
        ("job_token-query", {"job_token": JOB_TOKEN}, {}),
        ("job-token-header", {}, {"JOB-TOKEN": JOB_TOKEN}),
        ("unknown-private_token", {"private_token": "glpat-unknown-77aa19"}, {}),
        ("both-on-a-500", {"private_token": ROOT_TOKEN, "job_token": JOB_TOKEN}, {}),
    ],
)
def test_tokens_never_reach_the_log(
    server: tuple[str, Path], transport: str, query: dict[str, str], headers: dict[str, str]
) -> None:
    base, log = server
    request_id = f"secret-{transport}"
    path = f"{P}/jobs/66" if transport == "both-on-a-500" else f"{P}/jobs"

    response = httpx2.get(
        base + path,
        params={**query, "scope": "failed"},
        headers={**headers, "X-Request-Id": request_id},
        timeout=10,
    )

    assert response.status_code in (200, 401, 403, 500)
    text = read_log(log, request_id)
    access = [line for line in text.splitlines() if request_id in line and " GET " in line]
    assert len(access) == 1 and "/jobs" in access[0]  # the request was logged, with its path ...
    for secret in (ROOT_TOKEN, JOB_TOKEN, "glpat-unknown-77aa19"):
        assert secret not in text  # ... but no token, anywhere in the log


def test_an_encoded_token_parameter_name_never_reaches_the_log(server: tuple[str, Path]) -> None:
    base, log = server
    secret = ROOT_TOKEN

    response = httpx2.get(
        f"{base}{P}/jobs?scope=failed&private%5Ftoken={secret}",
        headers={"X-Request-Id": "secret-encoded-name"},
        timeout=10,
    )

    assert response.status_code == 200  # it did authenticate
    assert secret not in read_log(log, "secret-encoded-name")
