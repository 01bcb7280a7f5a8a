"""The Jobs API while many-entry archives are uploaded: what an index build costs the rest.

An index build is pure Python for every entry (about 1.4 s for 125,000). On an index thread it
holds the server's interpreter lock, so every other request waits behind it; in a worker
process (setting INDEX_PROCESSES, the default) it does not. Each mode gets a fresh server
over the transfer world: GET a job under `wrk` idle, then again while one client uploads a
many-entry archive back to back (each upload to the next of UPLOAD_JOBS, its artifacts
deleted first), in ROUNDS interleaved pairs whose medians are compared. `wrk` keeps 8
connections busy, not 64: a saturated server starves the upload's own body of the loop, and
the build then hardly overlaps the measurement. The figure is the loaded rate against the
idle one, same server, same run; the threads mode is reported beside it, without a goal, as
the before.

`python -m bench.indexload [ENTRIES]` runs it alone (SeaweedFS and wrk needed).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.api import wrk
from bench.client import http_client, upload_archive
from bench.figures import Figure
from bench.indexing import make_archive
from bench.servers import service_process
from bench.world import ADMIN_TOKEN, FILES_JOB, PROJECT, UPLOAD_JOBS, World, running_world

WRK_SECONDS = 6
ROUNDS = 2
CONNECTIONS = 8
GOAL = ">= 0.7"


@dataclass(frozen=True)
class Loaded:
    mode: str
    idle: tuple[float, float]  # (req/s, p99 s)
    loaded: tuple[float, float]
    uploads: int


def under_uploads(world: World, archive: Path, *, processes: bool) -> Loaded:
    """ROUNDS of (idle, loaded) on one server, alternated so that drift weighs on both; the
    medians of each."""
    env = {**world.env, "ARTIFACTSVC_INDEX_PROCESSES": "true" if processes else "false"}
    with service_process(env, cwd=world.workdir) as service, http_client() as http:
        job_url = f"{service.base_url}/api/v4/projects/{PROJECT}/jobs/{FILES_JOB}"
        http.get(job_url).raise_for_status()
        # One upload first, untimed: a worker process is started by then.
        _upload(http, service.base_url, UPLOAD_JOBS[0], archive)
        idle: list[tuple[float, float]] = []
        loaded: list[tuple[float, float]] = []
        uploads = 0
        for _ in range(ROUNDS):
            idle.append(
                wrk(job_url, seconds=WRK_SECONDS, token=ADMIN_TOKEN, connections=CONNECTIONS)
            )
            measured, done = _while_uploading(service.base_url, archive, job_url)
            loaded.append(measured)
            uploads += done
        return Loaded(
            "processes" if processes else "threads", _median(idle), _median(loaded), uploads
        )


def _while_uploading(base_url: str, archive: Path, job_url: str) -> tuple[tuple[float, float], int]:
    """wrk on `job_url` while one client uploads `archive` back to back; (wrk's result, the
    uploads finished meanwhile). The last upload is let finish before this returns."""
    stop = threading.Event()
    done: list[int] = []
    failed: list[BaseException] = []

    def keep_uploading() -> None:
        n = 1
        try:
            with http_client() as uploader:
                while not stop.is_set():
                    job_id = UPLOAD_JOBS[n % len(UPLOAD_JOBS)]
                    _upload(uploader, base_url, job_id, archive)
                    done.append(job_id)
                    n += 1
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=keep_uploading)
    thread.start()
    try:
        measured = wrk(job_url, seconds=WRK_SECONDS, token=ADMIN_TOKEN, connections=CONNECTIONS)
        finished = len(done)
    finally:
        stop.set()
        thread.join()
    if failed:
        raise failed[0]
    return measured, finished


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _upload(http: httpx.Client, base_url: str, job_id: int, archive: Path) -> None:
    http.delete(f"{base_url}/api/v4/projects/{PROJECT}/jobs/{job_id}/artifacts")
    upload_archive(http, base_url, job_id, archive)


def figures(found: list[Loaded], label: str, machine: str) -> list[Figure]:
    out: list[Figure] = []
    for run in found:
        default = run.mode == "processes"
        mode = (
            "index builds in worker processes (default)"
            if default
            else ("index builds on threads (INDEX_PROCESSES=false)")
        )
        out.append(
            Figure(
                figure=f"jobs API: GET a job while {label}s are uploaded back to back, "
                f"requests/s vs idle ({mode}; medians of {ROUNDS} rounds each, interleaved;"
                f" {run.uploads} uploads during wrk)",
                value=run.loaded[0],
                unit="req/s",
                baseline=run.idle[0],
                baseline_name="the same server idle, wrk rounds interleaved with the loaded ones",
                goal=GOAL if default else None,
                machine=machine,
            )
        )
        out.append(
            Figure(
                figure=f"jobs API: GET a job while {label}s are uploaded back to back, p99 at "
                f"{CONNECTIONS} in flight ({mode})",
                value=run.loaded[1] * 1000,
                unit="ms",
                baseline=run.idle[1] * 1000,
                baseline_name="the same server idle: p99, wrk rounds interleaved with the loaded"
                " ones",
                goal=None,
                machine=machine,
            )
        )
    return out


def measure(world: World, archive: Path, label: str) -> list[Figure]:
    found = [under_uploads(world, archive, processes=p) for p in (True, False)]
    machine = f"{world.machine}, wrk -t2 -c{CONNECTIONS}"
    return figures(found, label, machine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entries", nargs="?", type=int, default=125_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-indexload-"))
    try:
        with running_world(workdir) as world:
            archive = workdir / "many-entries.zip"
            make_archive(archive, args.entries)
            for figure in measure(world, archive, f"{args.entries:,}-entry archive"):
                ratio = "" if figure.baseline is None else f"  vs {figure.baseline:.4g}"
                print(f"{figure.value:10.4g} {figure.unit}{ratio}  {figure.figure}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
