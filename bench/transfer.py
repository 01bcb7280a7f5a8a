"""Whole-archive transfers through the service: server memory while streaming, and throughput.

Memory: each measurement uses a fresh server process. After a warm-up request its VmRSS is
the idle baseline and its VmHWM is reset to it (`/proc/PID/clear_refs`); the growth is the
VmHWM after the transfer minus that baseline. Where the reset is refused, VmHWM still holds
the start-up peak, which only makes the growth look larger.

Throughput: downloads through the service alternate with direct boto3 get_object streams of
the same object, so both see the same machine load; the median of each is compared. The
service is read by urllib3 in reads of the same size, the transport boto3 reads S3 with, so
both sides pay the same client (httpx, before 2026-12-03, cost the client side ~0.30 CPU s/GB
against boto3's 0.17, on the same 2 cores as the servers).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import urllib3

from bench.client import http_client, upload_archive, urllib3_download
from bench.concurrent import MEMORY_GOAL as CONCURRENT_MEMORY_GOAL
from bench.concurrent import STREAMS, presigned, through_service
from bench.figures import Figure
from bench.naive import direct_download, direct_upload
from bench.procstat import MiB, reset_peak
from bench.servers import Service
from bench.world import PROJECT, UPLOAD_JOBS, World

GROWTH_GOAL = "< 64"  # MiB: flat memory, whatever the archive's size


@dataclass(frozen=True)
class Peak:
    idle: int
    peak: int

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.idle)


def _idle(service: Service, http: httpx.Client) -> int:
    """Warm the process up (routing, auth, the database), then read its idle RSS."""
    http.get(f"{service.base_url}/api/v4/version").raise_for_status()
    service.storage_requests(http)
    rss = service.memory().rss
    reset_peak(service.pid)
    return rss


def upload_with_peak(world: World, job_id: int, path: Path) -> Peak:
    with world.service() as service, http_client() as http:
        idle = _idle(service, http)
        upload_archive(http, service.base_url, job_id, path)
        return Peak(idle, service.memory().peak)


def upload(world: World, job_id: int, path: Path) -> None:
    with world.service() as service, http_client() as http:
        upload_archive(http, service.base_url, job_id, path)


def uploads(
    world: World, path: Path, jobs: tuple[int, ...] = UPLOAD_JOBS
) -> tuple[list[float], list[float]]:
    """(through the service, boto3 upload_file) MB/s, interleaved, one fresh job a round."""
    size = path.stat().st_size
    s3 = world.s3()
    service_mbps: list[float] = []
    direct_mbps: list[float] = []
    with world.service() as service, http_client() as http:
        _idle(service, http)
        for job_id in jobs:
            start = time.perf_counter()
            upload_archive(http, service.base_url, job_id, path)
            service_mbps.append(size / 1e6 / (time.perf_counter() - start))
            seconds = direct_upload(s3, world.bucket, f"bench/direct-upload-{job_id}", path)
            direct_mbps.append(size / 1e6 / seconds)
    return service_mbps, direct_mbps


def small_uploads(world: World, path: Path, rounds: int) -> tuple[list[float], list[float]]:
    """(through the service, boto3 upload_file) seconds for a small archive, interleaved. The
    service's uploads cycle through UPLOAD_JOBS, each job's artifacts deleted (untimed)
    before its next upload."""
    s3 = world.s3()
    served: list[float] = []
    direct: list[float] = []
    with world.service() as service, http_client() as http:
        _idle(service, http)
        for n in range(rounds):
            job_id = UPLOAD_JOBS[n % len(UPLOAD_JOBS)]
            url = f"{service.base_url}/api/v4/projects/{PROJECT}/jobs/{job_id}/artifacts"
            http.delete(url)  # 204, or 404 for a job not uploaded to yet
            start = time.perf_counter()
            upload_archive(http, service.base_url, job_id, path)
            served.append(time.perf_counter() - start)
            direct.append(direct_upload(s3, world.bucket, f"bench/small-{n}", path))
    return served, direct


def small_upload_figure(found: tuple[list[float], list[float]], what: str, machine: str) -> Figure:
    served, direct = found
    return Figure(
        figure=f"small archive upload through the runner endpoint: latency ({what}, index "
        f"built, median of {len(served)})",
        value=statistics.median(served) * 1000,
        unit="ms",
        baseline=statistics.median(direct) * 1000,
        baseline_name="boto3 upload_file of the same file to SeaweedFS (one PUT), same run, "
        "interleaved",
        goal=None,
        machine=machine,
    )


def upload_throughput_figure(
    found: tuple[list[float], list[float]], what: str, machine: str, *, goal: str = ">= 0.9"
) -> Figure:
    service_mbps, direct_mbps = found
    return Figure(
        figure=f"archive upload throughput through the runner endpoint ({what}, index built, "
        f"median of {len(service_mbps)})",
        value=statistics.median(service_mbps),
        unit="MB/s",
        baseline=statistics.median(direct_mbps),
        baseline_name="boto3 upload_file of the same file to SeaweedFS (default concurrency), "
        "same run, interleaved",
        goal=goal,
        machine=machine,
    )


@dataclass(frozen=True)
class Downloads:
    memory: Peak
    service_mbps: list[float]
    direct_mbps: list[float]


def downloads(world: World, job_id: int, size: int, *, rounds: int) -> Downloads:
    key = world.archive_key(job_id)
    s3 = world.s3()
    service_mbps: list[float] = []
    direct_mbps: list[float] = []

    def record(into: list[float], received: int, seconds: float) -> None:
        if received != size:
            raise RuntimeError(f"downloaded {received} bytes of a {size}-byte archive")
        into.append(received / 1e6 / seconds)

    pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10.0, read=600.0))
    with world.service() as service, http_client() as http:
        idle = _idle(service, http)
        for _ in range(rounds):
            record(service_mbps, *urllib3_download(pool, service.base_url, job_id))
            record(direct_mbps, *direct_download(s3, world.bucket, key))
        return Downloads(Peak(idle, service.memory().peak), service_mbps, direct_mbps)


def memory_figure(what: str, peak: Peak, machine: str) -> Figure:
    return Figure(
        figure=f"server RSS growth (VmHWM - idle VmRSS) while {what}",
        value=peak.growth / MiB,
        unit="MiB",
        baseline=peak.idle / MiB,
        baseline_name="the same server process's VmRSS when idle, after start-up and one request",
        goal=GROWTH_GOAL,
        machine=machine,
        with_ratio=False,
    )


def throughput_figure(found: Downloads, what: str, machine: str) -> Figure:
    return Figure(
        figure=f"archive download throughput through the service ({what}, median of "
        f"{len(found.service_mbps)})",
        value=statistics.median(found.service_mbps),
        unit="MB/s",
        baseline=statistics.median(found.direct_mbps),
        baseline_name="boto3 get_object stream of the same object from SeaweedFS (the service "
        "read by urllib3, boto3's transport, in the same 1 MiB reads), same run, interleaved",
        goal=">= 0.85",  # the goal for one download
        machine=machine,
    )


@dataclass(frozen=True)
class ManyDownloads:
    memory: Peak
    service_mbps: list[float]
    direct_mbps: list[float]
    streams: int


def many_downloads(world: World, job_id: int, size: int, *, rounds: int) -> ManyDownloads:
    """`STREAMS` downloads of the archive at once, interleaved with as many presigned GETs."""
    service_mbps: list[float] = []
    direct_mbps: list[float] = []
    with world.service() as service, http_client() as http:
        idle = _idle(service, http)
        for _ in range(rounds):
            found = through_service(service.base_url, job_id)
            if found.received != STREAMS * size:
                raise RuntimeError(f"received {found.received} of {STREAMS} x {size} bytes")
            service_mbps.append(found.mbps)
            direct_mbps.append(presigned(world, job_id).mbps)
        return ManyDownloads(Peak(idle, service.memory().peak), service_mbps, direct_mbps, STREAMS)


def many_figures(found: ManyDownloads, what: str, machine: str) -> list[Figure]:
    return [
        Figure(
            figure=f"server RSS growth (VmHWM - idle VmRSS) while serving {found.streams} "
            f"concurrent downloads of a {what}",
            value=found.memory.growth / MiB,
            unit="MiB",
            baseline=found.memory.idle / MiB,
            baseline_name="the same server process's VmRSS when idle, after start-up and one "
            "request",
            goal=CONCURRENT_MEMORY_GOAL,
            machine=machine,
            with_ratio=False,
        ),
        Figure(
            figure=f"aggregate throughput of {found.streams} concurrent downloads of a {what} "
            f"through the service (median of {len(found.service_mbps)})",
            value=statistics.median(found.service_mbps),
            unit="MB/s",
            baseline=statistics.median(found.direct_mbps),
            baseline_name=f"{found.streams} concurrent GETs of presigned URLs of the same object "
            "from SeaweedFS, the same client, same run, interleaved",
            goal=">= 0.8",
            machine=machine,
        ),
    ]
