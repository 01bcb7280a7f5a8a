"""Jobs API figures: one job and a page of jobs against a bare Starlette app returning the
same JSON, and a keyset page deep in a large project against its first page, right after
`artifactsvc import`.

Throughput is measured as the issue measured it: `wrk` (Debian's package) with 64 connections
against `artifactsvc serve` and against the bare app (bench/bare.py) served by the same uvicorn
in a process of its own, interleaved. Without wrk on the PATH, an in-process ASGI client
drives both apps instead (HTTP parsing left out of both), and the figures say so.

Runnable alone against any checkout (`PYTHONPATH=CHECKOUT python -m bench.api --jobs N`), so
a 'before' is measured with the same code as the 'after'.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from artifactsvc import cli
from artifactsvc.app import create_app
from artifactsvc.settings import Settings
from bench.bare import bare_app
from bench.figures import Figure
from bench.servers import service_process
from bench.world import host_description
from tests.support.documents import job, pipeline, project, user
from tests.support.processes import free_port, stop_process, wait_for

TOKEN = "glpat-bench"
HEADERS = {"PRIVATE-TOKEN": TOKEN}
PROJECT = "/api/v4/projects/bench%2Fjobs"
CONCURRENCY = 64
# httpx's ASGI transport imports sniffio on every request to ask whether trio runs; without
# sniffio installed that is a failed import (a path search, ~1.5 ms) per request on both sides
# of every ratio. A None entry makes it fail at once.
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


def document(jobs: int) -> dict[str, Any]:
    """One project, `jobs` jobs over pipelines of 50 (every tenth job retried), its developer
    `bench` (not an administrator: the membership is looked up as for most callers)."""
    return {
        "users": [user(1, "bench", tokens=(TOKEN,))],
        "projects": [project(1, "bench/jobs", members={"bench": 30})],
        "pipelines": [pipeline(p, 1) for p in range(1, jobs // 50 + 2)],
        "jobs": [
            job(j, j // 50 + 1, user="bench", retried=j % 10 == 0) for j in range(1, jobs + 1)
        ],
    }


async def throughput(app: Any, url: str, requests: int) -> tuple[float, float]:
    """(requests per second, p99 seconds) with CONCURRENCY requests in flight."""
    transport = httpx.ASGITransport(app=app)
    latencies: list[float] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(CONCURRENCY):  # warm up
            (await client.get(url, headers=HEADERS)).raise_for_status()
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                start = time.perf_counter()
                response = await client.get(url, headers=HEADERS)
                latencies.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return requests / elapsed, statistics.quantiles(latencies, n=100)[98]


WRK_SECONDS = 4
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def wrk(
    url: str, *, seconds: int = WRK_SECONDS, token: str = TOKEN, connections: int = CONCURRENCY
) -> tuple[float, float]:
    """(requests per second, p99 seconds) from `wrk` with `connections`, every answer a 2xx
    (wrk counts the others; any is a failed run)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-H", f"PRIVATE-TOKEN: {token}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors against {url}:\n{out}")
    rps, p99 = _RPS.search(out), _P99.search(out)
    if rps is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(rps.group(1)), float(p99.group(1)) * _UNIT[p99.group(2)]


class BareProcess:
    """bench/bare.py under uvicorn (uvloop, httptools, no access log) on a free port."""

    def __init__(self, bodies: Path, cwd: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "bench.bare:app_from_env",
             "--host", "127.0.0.1", "--port", str(self.port), "--loop", "uvloop",
             "--http", "httptools", "--no-access-log", "--log-level", "warning"],
            env={**os.environ, "BENCH_BARE_BODIES": str(bodies),
                 "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            cwd=cwd,
        )  # fmt: skip
        self.base_url = f"http://127.0.0.1:{self.port}"
        wait_for(self._answers, timeout=30, what="the bare Starlette app")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("the bare Starlette app exited")
        try:
            return httpx.get(f"{self.base_url}/-/liveness", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        stop_process(self.process)


def wrk_rounds(
    service: str, bare: str, path: str, log: Callable[[str], None]
) -> tuple[float, float, float]:
    """(service req/s, service p99 s, bare req/s): medians of 3 interleaved wrk runs each."""
    rounds = []
    for _ in range(3):
        served, bare_run = wrk(service + path), wrk(bare + path)
        log(f"  service {served[0]:,.0f} req/s (p99 {served[1] * 1000:.1f} ms), "
            f"bare {bare_run[0]:,.0f} req/s")  # fmt: skip
        rounds.append((served, bare_run))
    return (
        statistics.median(s[0] for s, _ in rounds),
        statistics.median(s[1] for s, _ in rounds),
        statistics.median(b[0] for _, b in rounds),
    )


async def page_time(app: Any, url: str, rounds: int) -> float:
    """Median seconds of one request, one at a time."""
    transport = httpx.ASGITransport(app=app)
    times = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for _ in range(rounds):
            start = time.perf_counter()
            response = await client.get(url, headers=HEADERS)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
    return statistics.median(times)


def cursor(before: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": str(before)}).encode()).decode()


async def _lifespan(app: Any, body: Callable[[], Awaitable[list[Figure]]]) -> list[Figure]:
    async with app.router.lifespan_context(app):
        return await body()


GOALS = (("GET a job", ">= 0.5", "<= 20"), ("a page of 20 jobs", ">= 0.4", None))


def throughput_figures(
    label: str, served: float, p99: float, baseline: float, goals: tuple[str, str | None],
    machine: str,
) -> list[Figure]:  # fmt: skip
    ratio_goal, p99_goal = goals
    return [
        Figure(
            f"jobs API: {label}, requests/s vs bare Starlette",
            served, "req/s", baseline,
            "bare Starlette app returning the same JSON, same run", ratio_goal, machine,
        ),
        Figure(
            f"jobs API: {label}, p99 at {CONCURRENCY} in flight",
            p99 * 1000, "ms", None, "", p99_goal, machine, with_ratio=False,
        ),
    ]  # fmt: skip


def wrk_figures(
    database_url: str, workdir: Path, paths: dict[str, str], db: str, log: Callable[[str], None]
) -> list[Figure]:
    """Both apps as real processes, each driven by wrk in turn."""
    env = {
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": str(workdir / "objects"),
        "ARTIFACTSVC_EXTERNAL_URL": "http://bench",
    }
    machine = f"{host_description()}, {db}, wrk -t2 -c{CONCURRENCY} against real processes"
    figures = []
    with service_process(env, cwd=workdir) as service:
        bodies = {
            name: httpx.get(service.base_url + path, headers=HEADERS).json()
            for name, path in paths.items()
        }
        (workdir / "bodies.json").write_text(json.dumps(bodies))
        bare = BareProcess(workdir / "bodies.json", workdir)
        try:
            for (label, ratio_goal, p99_goal), path in zip(GOALS, paths.values(), strict=True):
                # SQLite's figures keep the names; PostgreSQL's say so in theirs.
                named = label if db == "SQLite" else f"{label} ({db})"
                log(f"{named}: wrk, service and bare Starlette interleaved")
                served, p99, baseline = wrk_rounds(service.base_url, bare.base_url, path, log)
                figures += throughput_figures(
                    named, served, p99, baseline, (ratio_goal, p99_goal), machine
                )
        finally:
            bare.stop()
    return figures


def api_figures(
    database_url: str,
    workdir: Path,
    *,
    jobs: int,
    requests: int,
    log: Callable[[str], None],
    with_throughput: bool = True,
) -> list[Figure]:
    """With `with_throughput` False, only the keyset figures (the PostgreSQL run)."""
    settings = Settings(
        database_url=database_url,
        storage_url=str(workdir / "objects"),
        external_url="http://bench",
    )
    path = workdir / "import.json"
    path.write_text(json.dumps(document(jobs)))
    log(f"importing {jobs:,} jobs into {database_url.split(':', 1)[0]}")
    assert asyncio.run(cli.import_file(settings, str(path))) == 0
    db = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    paths = {"one": f"{PROJECT}/jobs/{jobs - 1}", "page": f"{PROJECT}/jobs?per_page=20"}
    deep = f"{PROJECT}/jobs?pagination=keyset&per_page=20&cursor={cursor(41)}"
    use_wrk = shutil.which("wrk") is not None
    figures = (
        wrk_figures(database_url, workdir, paths, db, log) if use_wrk and with_throughput else []
    )
    app = create_app(settings)
    machine = f"{host_description()}, {db}, in-process ASGI client, {CONCURRENCY} in flight"

    async def measure() -> list[Figure]:
        measured: list[Figure] = []
        if with_throughput and not use_wrk:
            log("wrk is not installed (apt-get install wrk): an in-process client instead")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                bodies = {
                    name: (await client.get(url, headers=HEADERS)).json()
                    for name, url in paths.items()
                }
            bare = bare_app(bodies)
            for (label, ratio_goal, p99_goal), url in zip(GOALS, paths.values(), strict=True):
                log(f"{label}: {requests} requests, service and bare Starlette interleaved")
                rounds = [
                    (
                        await throughput(app, url, requests // 4),
                        await throughput(bare, url, requests // 4),
                    )
                    for _ in range(4)
                ]
                measured += throughput_figures(
                    label,
                    statistics.median(service[0] for service, _ in rounds),
                    statistics.median(service[1] for service, _ in rounds),
                    statistics.median(bare_run[0] for _, bare_run in rounds),
                    (ratio_goal, p99_goal),
                    machine,
                )
        log("keyset page 1 and the last page, one request at a time")
        first = await page_time(app, f"{PROJECT}/jobs?pagination=keyset&per_page=20", 30)
        last = await page_time(app, deep, 30)
        measured.append(
            Figure(
                f"keyset page 1 ({jobs:,} jobs, {db}, after import)",
                first * 1000,
                "ms",
                None,
                "",
                "<= 20",
                machine,
                with_ratio=False,
            )  # fmt: skip
        )
        measured.append(
            Figure(
                f"keyset last page vs page 1 ({jobs:,} jobs, {db}, after import)",
                last * 1000,
                "ms",
                first * 1000,
                "keyset page 1, same run",
                "<= 2",
                machine,
            )  # fmt: skip
        )
        return measured

    return figures + asyncio.run(_lifespan(app, measure))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="artifactsvc-bench-api-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/meta.db"
        figures = api_figures(
            url, Path(tmp), jobs=args.jobs, requests=args.requests,
            log=lambda m: print(f"[bench.api] {m}", file=sys.stderr, flush=True),
        )  # fmt: skip
    print(json.dumps([f.to_json() for f in figures], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
