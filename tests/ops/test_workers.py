"""`artifactsvc serve --workers 2` on one database: the workers share nothing in memory that
correctness needs. An archive uploaded through one worker is downloaded, and read member by
member from its persisted index, through the other; a revoked token stops working in every
worker once AUTH_CACHE_TTL has passed; `/metrics`, whichever worker renders it, sums both
(prometheus-client's multiprocess mode, the zip pools' gauges included).

Which worker answers is the kernel's choice: each request goes on a new connection, and the
JSON access log's `pid` says which worker answered it."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx2

from tests.ops.test_metrics import scrape, value
from tests.support.apps import import_document
from tests.support.database import execute
from tests.support.processes import ServerProcess, server_process
from tests.support.zips import sample_zip
from tests.test_ops import GUEST_TOKEN, JOB_TOKEN, ROOT_TOKEN, P, world

TTL = 1.0
READ_THREADS = 3
ATTEMPTS = 80  # requests until both workers have answered; at 1/2 each, missing one is ~1e-24


def answered_by(server: ServerProcess) -> dict[str, int]:
    """Request id -> pid of the worker that answered it, from the JSON access log."""
    found = {}
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "artifactsvc.access":
                found[record["request_id"]] = record["pid"]
    return found


def until_both_answer(
    server: ServerProcess, name: str, send: Callable[[str], httpx2.Response]
) -> list[tuple[int, httpx2.Response]]:
    """`send(request_id)` on new connections until both workers have answered one; each
    answer with the pid of its worker (0 if its access line is not written yet)."""
    answers: list[tuple[str, httpx2.Response]] = []
    for i in range(ATTEMPTS):
        request_id = f"{name}-{i}"
        answers.append((request_id, send(request_id)))
        if i % 4 == 3:
            time.sleep(0.05)  # the access line is written once the response has been sent
            pids = answered_by(server)
            if len({pids.get(rid) for rid, _ in answers} - {None}) == 2:
                return [(pids.get(rid, 0), response) for rid, response in answers]
    raise AssertionError(f"{name}: one worker answered all {ATTEMPTS} requests")


def test_two_workers_behave_as_one_service(database_url: str, tmp_path: Path) -> None:
    import_document(database_url, world(), tmp_path)
    (tmp_path / "prom").mkdir()
    env = {
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
        "ARTIFACTSVC_LOG_FORMAT": "json",
        "ARTIFACTSVC_AUTH_CACHE_TTL": str(TTL),
        "ARTIFACTSVC_MEMBER_READ_THREADS": str(READ_THREADS),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    archive = sample_zip()
    member = zipfile.ZipFile(io.BytesIO(archive)).namelist()[0]
    root = {"PRIVATE-TOKEN": ROOT_TOKEN}
    with server_process(env, cwd=tmp_path, args=("--workers", "2")) as server:
        base = server.base_url
        upload = httpx2.post(
            f"{base}/api/v4/jobs/8/artifacts",
            headers={"JOB-TOKEN": JOB_TOKEN, "X-Request-Id": "upload"},
            files={"file": ("artifacts.zip", archive)},
            timeout=10,
        )
        assert upload.status_code == 201, upload.text

        def read(request_id: str) -> httpx2.Response:
            headers = {**root, "X-Request-Id": request_id}
            whole = httpx2.get(f"{base}{P}/jobs/8/artifacts", headers=headers, timeout=10)
            assert whole.content == archive
            return httpx2.get(f"{base}{P}/jobs/8/artifacts/{member}", headers=headers)

        reads = until_both_answer(server, "read", read)
        uploader = answered_by(server)["upload"]
        assert any(pid not in (0, uploader) for pid, _ in reads)
        assert all(r.status_code == 200 for _, r in reads), [r.text for _, r in reads]
        expected = zipfile.ZipFile(io.BytesIO(archive)).read(member)
        assert all(r.content == expected for _, r in reads)

        def as_guest(request_id: str) -> httpx2.Response:
            headers = {"PRIVATE-TOKEN": GUEST_TOKEN, "X-Request-Id": request_id}
            return httpx2.get(f"{base}{P}/jobs", headers=headers)

        # Both workers hold the guest's token in their caches...
        cached = until_both_answer(server, "cached", as_guest)
        assert all(r.status_code == 200 for _, r in cached)
        execute(database_url, "DELETE FROM tokens WHERE user_id = 2")
        revoked = time.monotonic()
        # ...and once its TTL has passed, neither lets the revoked token in.
        time.sleep(max(0.0, revoked + TTL + 0.2 - time.monotonic()))
        after = until_both_answer(server, "revoked", as_guest)
        assert [r.status_code for _, r in after] == [401] * len(after)

        metrics = scrape(base)

    route = {"route": "/api/v4/projects/{id}/jobs", "method": "GET"}
    assert value(metrics, "artifactsvc_http_route_requests_total", **route, status="200") == len(
        cached
    )
    assert value(metrics, "artifactsvc_http_route_requests_total", **route, status="401") == len(
        after
    )
    download = {"route": "/api/v4/projects/{id}/jobs/{job_id}/artifacts", "method": "GET"}
    assert value(metrics, "artifactsvc_http_route_requests_total", **download, status="200") == len(
        reads
    )
    # Each worker has its own pools: their threads add up across the workers.
    assert value(metrics, "artifactsvc_zip_threads", pool="reads") == 2 * READ_THREADS
    assert value(metrics, "artifactsvc_zip_threads_busy", pool="reads") == 0
