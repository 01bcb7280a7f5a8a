"""Jobs API figures: one job and a page of jobs against a bare Starlette app returning the
same JSON (same run, same in-process ASGI client, so HTTP parsing is left out of both), and a
keyset page deep in a large project against its first page, right after `artifactsvc import`.

Runnable alone against any checkout (`PYTHONPATH=CHECKOUT python -m bench.api --jobs N`), so
a 'before' is measured with the same code as the 'after'.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from artifactsvc import cli
from artifactsvc.app import create_app
from artifactsvc.settings import Settings
from bench.figures import Figure
from bench.world import host_description
from tests.support.documents import job, pipeline, project, user

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


def bare_app(bodies: dict[str, Any]) -> Starlette:
    """The same JSON (`one` job, a `page`), from dicts built once, by Starlette's own
    JSONResponse."""

    async def endpoint(request: Request) -> Response:
        return JSONResponse(bodies["page" if "per_page" in request.query_params else "one"])

    return Starlette(routes=[Route("/{path:path}", endpoint)])


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


def api_figures(
    database_url: str, workdir: Path, *, jobs: int, requests: int, log: Callable[[str], None]
) -> list[Figure]:
    settings = Settings(
        database_url=database_url,
        storage_url=str(workdir / "objects"),
        external_url="http://bench",
    )
    path = workdir / "import.json"
    path.write_text(json.dumps(document(jobs)))
    log(f"importing {jobs:,} jobs into {database_url.split(':', 1)[0]}")
    assert asyncio.run(cli.import_file(settings, str(path))) == 0
    app = create_app(settings)
    db = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    machine = f"{host_description()}, {db}, in-process ASGI client, {CONCURRENCY} in flight"
    one = f"{PROJECT}/jobs/{jobs - 1}"
    page = f"{PROJECT}/jobs?per_page=20"
    deep = f"{PROJECT}/jobs?pagination=keyset&per_page=20&cursor={cursor(41)}"

    async def measure() -> list[Figure]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            bodies = {
                name: (await client.get(url, headers=HEADERS)).json()
                for name, url in (("one", one), ("page", page))
            }
        bare = bare_app(bodies)
        figures = []
        for label, url, goal in (
            ("GET a job", one, ">= 0.5"),
            ("a page of 20 jobs", page, ">= 0.4"),
        ):
            log(f"{label}: {requests} requests, service and bare Starlette interleaved")
            rounds = [
                (
                    await throughput(app, url, requests // 4),
                    await throughput(bare, url, requests // 4),
                )
                for _ in range(4)
            ]
            served = statistics.median(service[0] for service, _ in rounds)
            p99 = statistics.median(service[1] for service, _ in rounds)
            baseline = statistics.median(bare_run[0] for _, bare_run in rounds)
            figures.append(
                Figure(
                    f"jobs API: {label}, requests/s vs bare Starlette",
                    served,
                    "req/s",
                    baseline,
                    "bare Starlette app returning the same JSON, same run",
                    goal,
                    machine,
                )  # fmt: skip
            )
            figures.append(
                Figure(
                    f"jobs API: {label}, p99 at {CONCURRENCY} in flight",
                    p99 * 1000,
                    "ms",
                    None,
                    "",
                    "<= 20" if label == "GET a job" else None,
                    machine,
                    with_ratio=False,
                )  # fmt: skip
            )
        log("keyset page 1 and the last page, one request at a time")
        first = await page_time(app, f"{PROJECT}/jobs?pagination=keyset&per_page=20", 30)
        last = await page_time(app, deep, 30)
        figures.append(
            Figure(
                f"keyset page 1 ({jobs:,} jobs, after import)",
                first * 1000,
                "ms",
                None,
                "",
                "<= 20",
                machine,
                with_ratio=False,
            )  # fmt: skip
        )
        figures.append(
            Figure(
                f"keyset last page vs page 1 ({jobs:,} jobs, after import)",
                last * 1000,
                "ms",
                first * 1000,
                "keyset page 1, same run",
                "<= 2",
                machine,
            )  # fmt: skip
        )
        return figures

    return asyncio.run(_lifespan(app, measure))


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
