"""What a runner's log append costs deep into a long log: `PATCH /api/v4/jobs/:id/trace` with
4 KiB pieces, as gitlab-runner sends them, until the log is LOG_BYTES long; the appends made
last (the log then some MiB long) against the first ones (under 256 KiB), in one run, through
the real app (in-process ASGI client), on SQLite and, when one answers, PostgreSQL.

    .venv/bin/python -m bench.traces [--mib N]

A log stored whole was rewritten by every append, so an append cost grew with the log (218 ms
at 16 MiB on SQLite, against 0.4 ms at the start); stored in pieces it should not grow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from artifactsvc import cli
from artifactsvc.app import create_app
from artifactsvc.settings import Settings
from bench.figures import Figure
from bench.world import host_description
from tests.support.database import postgres_schema
from tests.support.documents import job, pipeline, project, user

PIECE = 4096
COMPARED = 64  # appends timed at each end
JOB = 1


async def _append_times(app: Any, pieces: int) -> list[float]:
    """Seconds of each append, in order; every one must be taken (202, the size it says)."""
    headers = {"JOB-TOKEN": "bench-job-token"}
    piece = b"x" * (PIECE - 1) + b"\n"
    times: list[float] = []
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        for n in range(pieces):
            start = n * PIECE
            range_header = {"Content-Range": f"{start}-{start + PIECE - 1}"}
            began = time.perf_counter()
            answer = await client.patch(
                f"/api/v4/jobs/{JOB}/trace", content=piece, headers={**headers, **range_header}
            )
            times.append(time.perf_counter() - began)
            if answer.status_code != 202 or answer.headers["Range"] != f"0-{start + PIECE}":
                raise RuntimeError(f"append {n}: {answer.status_code} {answer.headers}")
    return times


def _figure(database_url: str, workdir: Path, log_bytes: int, db: str) -> Figure:
    settings = Settings(
        database_url=database_url, storage_url=str(workdir / "objects"), external_url="http://b"
    )
    document = {
        "users": [user(1, "bench")],
        "projects": [project(1, "bench/traces")],
        "pipelines": [pipeline(1, 1)],
        "jobs": [job(JOB, 1, "running", token="bench-job-token")],
    }
    path = workdir / "import.json"
    path.write_text(json.dumps(document))
    assert asyncio.run(cli.import_file(settings, str(path))) == 0
    times = asyncio.run(_append_times(create_app(settings), log_bytes // PIECE))
    mib = log_bytes / (1 << 20)
    return Figure(
        figure=f"job log append, 4 KiB, at {mib:g} MiB into the log vs at its start ({db})",
        value=statistics.median(times[-COMPARED:]) * 1000,
        unit="ms",
        baseline=statistics.median(times[:COMPARED]) * 1000,
        baseline_name=f"the first {COMPARED} appends of the same log, same run",
        goal="<= 1.5",
        machine=f"{host_description()}, {db}, in-process ASGI client, one append at a time",
    )


def trace_figures(workdir: Path, *, log_bytes: int) -> list[Figure]:
    (workdir / "sqlite").mkdir()
    figures = [
        _figure(f"sqlite:///{workdir}/sqlite/meta.db", workdir / "sqlite", log_bytes, "SQLite")
    ]
    try:
        with postgres_schema() as url:
            (workdir / "postgresql").mkdir()
            figures.append(_figure(url, workdir / "postgresql", log_bytes, "PostgreSQL"))
    except psycopg.OperationalError as error:
        print(f"bench.traces: no PostgreSQL ({error}); SQLite only", file=sys.stderr)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.traces", description=__doc__)
    parser.add_argument("--mib", type=int, default=16)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="artifactsvc-bench-traces-") as tmp:
        figures = trace_figures(Path(tmp), log_bytes=args.mib << 20)
    print(json.dumps([f.to_json() for f in figures], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
