"""Single-file reads out of the many-files archive: storage GETs and latency, warm and cold.

Warm: one server process reads `reads` random members once (loading their index buckets into
its cache), then again, measured. Each measured read is paired with the naive read of the
same member straight from SeaweedFS (boto3, `naive.naive_read`), alternating which goes
first; both bodies must be identical. The service's GETs are its own /metrics counter,
scraped around each read; the naive method's are counted by `CountingSource`.

Each warm read is also timed against the floor: one bare boto3 ranged GET of the member's
own bytes (local header and data), on a warm client.

Cold: a fresh server process per trial reads one member; its index directory comes from the
database row, so the bucket and the member are the only storage reads it should need. Its
time (the first request the process serves) is set against the naive read on a fresh boto3
client (connections not yet open, no central directory known), over a 1 MiB archive, where
the naive method's central directory is small and the service has the least advantage.
"""

from __future__ import annotations

import random
import statistics
import struct
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from artifactsvc.ziprange import CountingSource
from bench.client import file_url, http_client, read_file
from bench.figures import Figure
from bench.naive import BotoRangeSource, naive_read
from bench.servers import Service
from bench.world import FILES_JOB, World

NAIVE = "naive: tail read + whole central directory parsed + member, boto3 ranged GETs"


@dataclass(frozen=True)
class WarmReads:
    service_gets: list[int]
    naive_gets: list[int]
    service_seconds: list[float]
    naive_seconds: list[float]
    bare_seconds: list[float] = field(default_factory=list)


def member_ranges(archive: Path) -> dict[str, tuple[int, int]]:
    """Each member's own bytes in `archive`: (offset, length) of its local header and data."""
    ranges = {}
    with zipfile.ZipFile(archive) as zipped, archive.open("rb") as raw:
        for info in zipped.infolist():
            raw.seek(info.header_offset)
            name_length, extra_length = struct.unpack("<HH", raw.read(30)[26:30])
            length = 30 + name_length + extra_length + info.compress_size
            ranges[info.filename] = (info.header_offset, length)
    return ranges


def _timed(read: Callable[[], bytes]) -> tuple[bytes, float]:
    start = time.perf_counter()
    body = read()
    return body, time.perf_counter() - start


def warm_reads(
    world: World,
    service: Service,
    names: list[str],
    size: int,
    *,
    reads: int,
    ranges: dict[str, tuple[int, int]],
    seed: int = 3,
) -> WarmReads:
    rng = random.Random(seed)
    chosen = rng.sample(names, min(reads, len(names)))
    key = world.archive_key(FILES_JOB)
    s3 = world.s3()
    source = CountingSource(BotoRangeSource(s3, world.bucket, key, size))

    def bare_get(name: str) -> bytes:
        start, length = ranges[name]
        range_header = f"bytes={start}-{start + length - 1}"
        return s3.get_object(Bucket=world.bucket, Key=key, Range=range_header)["Body"].read()

    result = WarmReads([], [], [], [])
    with http_client() as http:
        for name in chosen:  # warm-up: index buckets cached, connections open
            read_file(http, file_url(service.base_url, FILES_JOB, name))
            naive_read(source, name)
            bare_get(name)
        rng.shuffle(chosen)
        for i, name in enumerate(chosen):
            url = file_url(service.base_url, FILES_JOB, name)

            def through_service(url: str = url) -> bytes:
                return read_file(http, url)

            def naive(name: str = name) -> bytes:
                return naive_read(source, name)

            before = service.storage_gets(http)
            source.reset()
            if i % 2:
                naive_body, naive_s = _timed(naive)
                body, service_s = _timed(through_service)
            else:
                body, service_s = _timed(through_service)
                naive_body, naive_s = _timed(naive)
            result.service_gets.append(service.storage_gets(http) - before)
            result.naive_gets.append(source.requests)
            if body != naive_body:
                raise RuntimeError(f"service and naive read of {name!r} differ")
            result.service_seconds.append(service_s)
            result.naive_seconds.append(naive_s)
            result.bare_seconds.append(_timed(partial(bare_get, name))[1])
    return result


def warm_figures(found: WarmReads, label: str, machine: str) -> list[Figure]:
    n = len(found.service_seconds)
    return [
        Figure(
            figure=f"single-file read, warm: storage GETs per read (worst of {n}; {label})",
            value=max(found.service_gets),
            unit="requests",
            baseline=max(found.naive_gets),
            baseline_name=NAIVE + ", counted by CountingSource",
            goal="== 1",
            machine=machine,
            with_ratio=False,
        ),
        Figure(
            figure=f"single-file read, warm: median latency through the service "
            f"({n} reads; {label})",
            value=statistics.median(found.service_seconds) * 1000,
            unit="ms",
            baseline=statistics.median(found.naive_seconds) * 1000,
            baseline_name=NAIVE + ", same members, interleaved",
            goal="<= 1.0",
            machine=machine,
        ),
        Figure(
            figure=f"single-file read, warm: median latency through the service vs one bare "
            f"ranged GET of the member's bytes ({n} reads; {label})",
            value=statistics.median(found.service_seconds) * 1000,
            unit="ms",
            baseline=statistics.median(found.bare_seconds) * 1000,
            baseline_name="boto3 get_object with Range over the member's local header and "
            "data, warm client, same members",
            goal="<= 1.5",
            machine=machine,
        ),
    ]


def cold_reads(
    world: World, names: list[str], *, trials: int, naive_gets: int, label: str, seed: int = 4
) -> Figure:
    rng = random.Random(seed)
    counts: list[int] = []
    for name in rng.sample(names, trials):
        with world.service() as service, httpx.Client(timeout=60) as metrics, http_client() as http:
            before = service.storage_gets(metrics)
            read_file(http, file_url(service.base_url, FILES_JOB, name))
            counts.append(service.storage_gets(metrics) - before)
    return Figure(
        figure=f"single-file read, cold (fresh process, index from DB row): storage GETs "
        f"(worst of {trials}; {label})",
        value=max(counts),
        unit="requests",
        baseline=naive_gets,
        baseline_name=NAIVE + ", counted by CountingSource",
        goal="<= 2",
        machine=world.machine,
        with_ratio=False,
    )


def cold_timed(
    world: World, job_id: int, names: list[str], size: int, *, trials: int, label: str
) -> Figure:
    """The first read a fresh server serves against the naive read on a fresh boto3 client,
    alternating which goes first; medians."""
    served: list[float] = []
    naive: list[float] = []
    key = world.archive_key(job_id)
    for trial, name in enumerate(random.Random(5).choices(names, k=trials)):
        with world.service() as service, http_client() as http:
            url = file_url(service.base_url, job_id, name)
            source = BotoRangeSource(world.s3(), world.bucket, key, size)  # fresh client
            reads: dict[str, Callable[[], bytes]] = {
                "service": partial(read_file, http, url),
                "naive": partial(naive_read, source, name),
            }
            bodies = {}
            for which in ("service", "naive") if trial % 2 else ("naive", "service"):
                bodies[which], seconds = _timed(reads[which])
                (served if which == "service" else naive).append(seconds)
            if bodies["service"] != bodies["naive"]:
                raise RuntimeError(f"service and naive cold read of {name!r} differ")
    return Figure(
        figure=f"single-file read, cold (a fresh process's first request; {label}): latency",
        value=statistics.median(served) * 1000,
        unit="ms",
        baseline=statistics.median(naive) * 1000,
        baseline_name=NAIVE + ", on a fresh boto3 client",
        goal="<= 1.0",
        machine=world.machine,
    )
