"""What tracing costs: `GET a job` with ARTIFACTSVC_OTLP_ENDPOINT set (spans for the request,
its metadata transactions, exported in batches to a real OTLP/HTTP receiver in this process)
against the same app without it, interleaved in one run, in-process ASGI client (bench/api.py's).

    .venv/bin/python -m bench.tracing [--requests N]

Tracing off is the app as it runs by default: tests/ops/test_tracing.py shows that it
imports no opentelemetry module and exports nothing, so its cost is one `is None` a seam.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from artifactsvc import cli
from artifactsvc.app import create_app
from artifactsvc.settings import Settings
from bench.api import CONCURRENCY, PROJECT, document, throughput
from bench.figures import Figure
from bench.world import host_description
from tests.support.otlp import otlp_receiver

JOBS = 1000


def tracing_figures(workdir: Path, *, requests: int) -> list[Figure]:
    database_url = f"sqlite:///{workdir}/meta.db"
    off = Settings(
        database_url=database_url, storage_url=str(workdir / "objects"), external_url="http://b"
    )
    path = workdir / "import.json"
    path.write_text(json.dumps(document(JOBS)))
    assert asyncio.run(cli.import_file(off, str(path))) == 0
    url = f"{PROJECT}/jobs/{JOBS - 1}"
    with otlp_receiver() as receiver:
        on = dataclasses.replace(off, otlp_endpoint=receiver.url)
        plain, traced = create_app(off), create_app(on)

        async def measure() -> list[tuple[float, float]]:
            async with (
                plain.router.lifespan_context(plain),
                traced.router.lifespan_context(traced),
            ):
                return [
                    (
                        (await throughput(traced, url, requests // 4))[0],
                        (await throughput(plain, url, requests // 4))[0],
                    )
                    for _ in range(4)
                ]

        rounds = asyncio.run(measure())  # the traced app's shutdown flushes its spans
        spans = len(receiver.received())
    machine = f"{host_description()}, SQLite, in-process ASGI client, {CONCURRENCY} in flight"
    return [
        Figure(
            "GET a job with tracing on (OTLP/HTTP, batched), requests/s vs tracing off",
            statistics.median(t for t, _ in rounds),
            "req/s",
            statistics.median(p for _, p in rounds),
            f"the same app without ARTIFACTSVC_OTLP_ENDPOINT, same run ({spans:,} spans exported)",
            ">= 0.5",
            machine,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="artifactsvc-bench-tracing-") as tmp:
        figures = tracing_figures(Path(tmp), requests=args.requests)
    found: list[dict[str, Any]] = [f.to_json() for f in figures]
    print(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
