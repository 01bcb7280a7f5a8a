"""One benchmark run: stand the parts up, build the archives, measure, clean everything up.

Archives and SeaweedFS's data live in a fresh directory under `root` (default /tmp), removed
at the end whatever happens.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

import psycopg

from bench.api import api_figures
from bench.archives import build_files_archive, build_stream_archive
from bench.concurrent import STREAMS
from bench.figures import Figure
from bench.indexing import index_figures, index_runs, make_archive
from bench.indexload import measure as index_load_figures
from bench.nginx import nginx_figures
from bench.pages import measure as page_figures
from bench.reads import cold_reads, cold_timed, member_ranges, warm_figures, warm_reads
from bench.sizes import GiB, MiB, Sizes
from bench.traces import trace_figures
from bench.tracing import tracing_figures
from bench.transfer import (
    downloads,
    many_downloads,
    many_figures,
    memory_figure,
    small_upload_figure,
    small_uploads,
    throughput_figure,
    upload,
    upload_throughput_figure,
    upload_with_peak,
    uploads,
)
from bench.world import (
    FILES_JOB,
    SMALL_JOB,
    STREAM_JOB,
    UPLOAD_JOBS,
    host_description,
    running_world,
)
from tests.support.database import postgres_schema

PARTS = ("reads", "transfer", "index", "api", "nginx", "pages", "tracing", "traces")
_START = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def check_disk(root: Path, sizes: Sizes) -> None:
    free = shutil.disk_usage(root).free
    if free < sizes.disk_needed():
        raise SystemExit(
            f"bench: {free / GiB:.1f} GiB free under {root}, {sizes.disk_needed() / GiB:.1f} "
            "GiB needed; use --workdir elsewhere or --quick"
        )


def run(sizes: Sizes, root: Path, *, parts: Collection[str] = PARTS) -> list[Figure]:
    check_disk(root, sizes)
    workdir = Path(tempfile.mkdtemp(prefix="artifactsvc-bench-", dir=root))
    log(f"{sizes.name} run in {workdir}")
    try:
        warm: list[Figure] = []
        transfer: list[Figure] = []
        cold: list[Figure] = []
        index: list[Figure] = []
        if "reads" in parts or "transfer" in parts:
            warm, transfer, cold = _service_figures(sizes, workdir, parts)
        if "index" in parts:
            index = _index_figures(sizes, workdir)
        api: list[Figure] = []
        if "api" in parts:
            api = _api_figures(sizes, workdir)
        offload: list[Figure] = []
        if "nginx" in parts:
            offload = nginx_figures(sizes, workdir, log)
        pages: list[Figure] = []
        if "pages" in parts:
            log(f"browse pages on a {sizes.index_entries:,}-entry archive vs a 10-entry one")
            (workdir / "pages").mkdir()
            pages = page_figures(workdir / "pages", entries=sizes.index_entries, rounds=3)
        traced: list[Figure] = []
        if "tracing" in parts:
            log("GET a job with tracing on vs off")
            (workdir / "tracing").mkdir()
            traced = tracing_figures(workdir / "tracing", requests=2000)
        logs: list[Figure] = []
        if "traces" in parts:
            mib = 4 if sizes.name == "quick" else 16
            log(f"job log appends of 4 KiB up to {mib} MiB, SQLite and PostgreSQL")
            (workdir / "traces").mkdir()
            logs = trace_figures(workdir / "traces", log_bytes=mib << 20)
        return [*warm, *transfer, *index, *cold, *api, *offload, *pages, *traced, *logs]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _service_figures(
    sizes: Sizes, workdir: Path, parts: Collection[str]
) -> tuple[list[Figure], list[Figure], list[Figure]]:
    """(warm reads, transfers, cold reads): the figures that need SeaweedFS and the server."""
    archives = workdir / "archives"
    archives.mkdir()
    files_label = (
        f"{sizes.describe(sizes.files_archive_bytes)} archive, "
        f"{sizes.files_archive_entries:,} entries"
    )
    stream_label = f"{sizes.describe(sizes.stream_archive_bytes)} archive"
    warm_found: list[Figure] = []
    transfer: list[Figure] = []
    cold_found: list[Figure] = []
    with running_world(workdir) as world:
        log(f"SeaweedFS up at {world.seaweed.endpoint_url}")
        if "transfer" in parts:
            log(f"building the {stream_label}")
            stream = build_stream_archive(
                archives / "stream.zip",
                total_bytes=sizes.stream_archive_bytes,
                member_bytes=sizes.stream_member_bytes,
            )
            log(f"uploading it ({stream.size:,} bytes) to a fresh server")
            uploaded = upload_with_peak(world, STREAM_JOB, stream.path)
            log(f"downloading it {sizes.download_rounds}x, and directly as many times")
            found = downloads(world, STREAM_JOB, stream.size, rounds=sizes.download_rounds)
            log(f"{STREAMS} downloads at once, and as many presigned GETs, 2x each")
            many = many_downloads(world, STREAM_JOB, stream.size, rounds=2)
            log(f"uploading it {sizes.download_rounds}x, and with boto3 upload_file as often")
            sent = uploads(world, stream.path, UPLOAD_JOBS[: sizes.download_rounds])
            stream.path.unlink()
            many_label = f"{sizes.index_entries:,}-entry archive"
            log(f"building a {many_label}; uploading it 2x, and with upload_file as often")
            many_path = archives / "many-entries.zip"
            make_archive(many_path, sizes.index_entries)
            sent_many = uploads(world, many_path, UPLOAD_JOBS[-2:])
            log("GET a job idle and while it is uploaded back to back, index builds in")
            log("worker processes and then on threads")
            under_uploads = index_load_figures(world, many_path, many_label)
            many_path.unlink()
            small = build_files_archive(
                archives / "small.zip", total_bytes=64 << 10, entries=20, seed=7
            )
            small_label = f"{small.size:,}-byte archive, 20 entries"
            log(f"uploading a {small_label} 30x, and with upload_file as often")
            sent_small = small_uploads(world, small.path, rounds=30)
            transfer = [
                upload_throughput_figure(sent, stream_label, world.machine),
                upload_throughput_figure(sent_many, many_label, world.machine, goal=">= 0.6"),
                *under_uploads,
                small_upload_figure(sent_small, small_label, world.machine),
                *many_figures(many, stream_label, world.machine),
                throughput_figure(found, stream_label, world.machine),
                memory_figure(f"streaming a {stream_label} download", found.memory, world.machine),
                memory_figure(f"uploading a {stream_label} (streamed)", uploaded, world.machine),
            ]
        if "reads" in parts:
            log(f"building the {files_label}")
            files = build_files_archive(
                archives / "files.zip",
                total_bytes=sizes.files_archive_bytes,
                entries=sizes.files_archive_entries,
            )
            size = files.size
            ranges = member_ranges(files.path)
            log(f"uploading it ({size:,} bytes)")
            upload(world, FILES_JOB, files.path)
            files.path.unlink()
            log(f"{sizes.reads} warm reads, through the service, naively and bare")
            with world.service() as service:
                warm = warm_reads(
                    world, service, files.names, size, reads=sizes.reads, ranges=ranges
                )
            log(f"{sizes.cold_trials} cold reads, a fresh server each")
            cold = cold_reads(
                world,
                files.names,
                trials=sizes.cold_trials,
                naive_gets=max(warm.naive_gets),
                label=files_label,
            )
            small = build_files_archive(archives / "small.zip", total_bytes=MiB, entries=64)
            upload(world, SMALL_JOB, small.path)
            log(f"{sizes.cold_trials * 2} timed cold reads of a 1 MiB archive, a fresh server each")
            cold_time = cold_timed(
                world,
                SMALL_JOB,
                small.names,
                small.size,
                trials=sizes.cold_trials * 2,
                label="1 MiB archive, 64 entries",
            )
            warm_found = warm_figures(warm, files_label, world.machine)
            cold_found = [cold, cold_time]
    return warm_found, transfer, cold_found


def _index_figures(sizes: Sizes, workdir: Path) -> list[Figure]:
    archive = workdir / "many.zip"
    spill = workdir / "spill"
    spill.mkdir()
    log(f"building a {sizes.index_entries:,}-entry archive")
    make_archive(archive, sizes.index_entries)
    log(f"index build vs zipfile, {sizes.index_rounds} rounds")
    found = index_runs(archive, spill, rounds=sizes.index_rounds)
    machine = f"{host_description()}, archive a local file under {workdir.parent}"
    return index_figures(found, archive, machine)


def _api_figures(sizes: Sizes, workdir: Path) -> list[Figure]:
    """The Jobs API against a bare Starlette app, and keyset pages over a large project."""
    jobs = 100_000 if sizes.name == "quick" else 1_000_000
    api = workdir / "api"
    api.mkdir()
    figures = api_figures(f"sqlite:///{api}/meta.db", api, jobs=jobs, requests=2000, log=log)
    # On PostgreSQL too (what replicas share), in a fresh schema of the test database, when
    # one answers (ARTIFACTSVC_TEST_POSTGRES_URL, default 127.0.0.1:5432/test): the keyset
    # pages, and with wrk the throughput figures.
    try:
        with postgres_schema() as url:
            postgres = workdir / "api-postgresql"
            postgres.mkdir()
            figures += api_figures(
                url, postgres, jobs=jobs, requests=0, log=log,
                with_throughput=shutil.which("wrk") is not None,
            )  # fmt: skip
    except psycopg.OperationalError as error:
        log(f"no PostgreSQL for the keyset figures ({error}); SQLite only")
    return figures
