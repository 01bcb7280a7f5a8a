"""nginx in front (`artifactsvc nginx-config`): offloaded downloads, and what they cost the service.

The local-files store, a SQLite database seeded as bench/world.py seeds it, and Debian's nginx
(/usr/sbin/nginx) with the printed configuration plus one more server that serves the storage
directory as plain static files: the baseline is the same bytes, the same nginx, the same
sendfile, with no service in the way.

1. **Offloaded download vs nginx static**: with DOWNLOAD_MODE=accel, archive downloads
   through nginx (the service authorizes, answers `X-Accel-Redirect`, nginx sends the file)
   alternate with GETs of the same file from the static server; medians compared.
2. **Service CPU per GB, accel vs proxy**: the service process's CPU time (utime + stime,
   /proc/PID/stat) over the same downloads through nginx, in accel mode and then (a fresh
   process) in proxy mode, per GB delivered.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.archives import build_stream_archive
from bench.client import download_archive, http_client, timed_get, upload_archive
from bench.figures import Figure
from bench.sizes import Sizes
from bench.world import MAX_ARTIFACT_SIZE, PROJECT, STREAM_JOB, host_description, seed_document
from tests.support.apps import import_document
from tests.support.nginx import NginxProcess, have_nginx, nginx_process
from tests.support.processes import ServerProcess, free_port, server_process


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` so far (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Stack:
    server: ServerProcess
    nginx: NginxProcess
    static_url: str


@dataclass(frozen=True)
class Measured:
    accel_mbps: list[float]
    static_mbps: list[float]
    cpu_per_gb: dict[str, float]


def nginx_figures(sizes: Sizes, workdir: Path, log: Callable[[str], None]) -> list[Figure]:
    if not have_nginx():
        log("no /usr/sbin/nginx: the nginx figures are skipped")
        return []
    directory = workdir / "nginx"
    directory.mkdir()
    database_url = f"sqlite:///{directory / 'meta.db'}"
    import_document(database_url, seed_document(), directory)
    objects = directory / "objects"  # where import_document's settings put the store
    env = {
        "ARTIFACTSVC_STORAGE_URL": str(objects),
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_MAX_ARTIFACT_SIZE": str(MAX_ARTIFACT_SIZE),
        "ARTIFACTSVC_DEFAULT_EXPIRE_IN": "never",
    }
    label = sizes.describe(sizes.stream_archive_bytes)
    log(f"nginx: building a {label} archive")
    built = build_stream_archive(
        directory / "stream.zip",
        total_bytes=sizes.stream_archive_bytes,
        member_bytes=sizes.stream_member_bytes,
    )
    size = built.path.stat().st_size
    with server_process(env, cwd=directory) as server, http_client() as http:
        upload_archive(http, server.base_url, STREAM_JOB, built.path)
    built.path.unlink()
    key = _archive_key(objects)
    rounds = max(sizes.download_rounds, 9)  # a download is short: more rounds, less noise
    log(f"nginx: {rounds} accel downloads and as many static GETs, interleaved")
    found = _measure(env, directory, key, size, rounds)
    machine = (
        f"{host_description()}, Debian nginx 1.22 (nginx-light) on loopback, local-files store"
        f" under {workdir.parent}, artifactsvc: 1 uvicorn worker, SQLite"
    )
    return [
        Figure(
            figure=f"archive download offloaded to nginx (DOWNLOAD_MODE=accel, {label}, median"
            f" of {rounds})",
            value=statistics.median(found.accel_mbps),
            unit="MB/s",
            baseline=statistics.median(found.static_mbps),
            baseline_name="the same file from a static nginx location (sendfile), same nginx,"
            " same run, interleaved",
            goal=">= 0.95",
            machine=machine,
        ),
        Figure(
            figure=f"service CPU per GB downloaded through nginx, accel mode ({label})",
            value=found.cpu_per_gb["accel"],
            unit="CPU s/GB",
            baseline=found.cpu_per_gb["proxy"],
            baseline_name="the same downloads through nginx in proxy mode (the service streams"
            " them), same run",
            goal="<= 0.05",
            machine=machine,
        ),
    ]


def _archive_key(objects: Path) -> str:
    jobs = objects / "projects" / str(PROJECT) / "jobs" / str(STREAM_JOB)
    found = [p for p in jobs.rglob("*") if p.is_file() and not p.name.endswith(".index")]
    if len(found) != 1:
        raise RuntimeError(f"expected one archive file for job {STREAM_JOB}, found {found}")
    return found[0].relative_to(objects).as_posix()


def _stack(stack: ExitStack, env: dict[str, str], directory: Path, mode: str) -> Stack:
    port, static = free_port(), free_port()
    served = {**env, "ARTIFACTSVC_DOWNLOAD_MODE": mode}
    served["ARTIFACTSVC_EXTERNAL_URL"] = f"http://127.0.0.1:{port}"
    server = stack.enter_context(server_process(served, cwd=directory))
    extra = (
        f"\n    server {{\n        listen 127.0.0.1:{static};\n"
        f"        location /static/ {{ alias {env['ARTIFACTSVC_STORAGE_URL']}/; }}\n    }}\n"
    )
    nginx = stack.enter_context(
        nginx_process(
            {**served, "ARTIFACTSVC_PORT": server.base_url.rsplit(":", 1)[1]},
            directory=directory / f"nginx-{mode}",
            port=port,
            extra=extra,
        )
    )
    return Stack(server, nginx, f"http://127.0.0.1:{static}/static/")


def _measure(env: dict[str, str], directory: Path, key: str, size: int, rounds: int) -> Measured:
    accel: list[float] = []
    static: list[float] = []
    cpu: dict[str, float] = {}

    def record(into: list[float], received: int, seconds: float) -> None:
        if received != size:
            raise RuntimeError(f"downloaded {received} bytes of a {size}-byte archive")
        into.append(received / 1e6 / seconds)

    for mode in ("accel", "proxy"):
        with ExitStack() as stack, http_client() as http:
            found = _stack(stack, env, directory, mode)
            download_archive(
                http, found.nginx.base_url, STREAM_JOB
            )  # warm: auth, index, page cache
            before = cpu_seconds(found.server.pid)
            sent = 0
            for n in range(rounds):
                # Which goes first alternates: neither side always meets a cold page cache
                # or the tail of the other's work.
                if mode == "accel" and n % 2:
                    record(static, *timed_get(http, found.static_url + key))
                received, seconds = download_archive(http, found.nginx.base_url, STREAM_JOB)
                sent += received
                if mode == "accel":
                    record(accel, received, seconds)
                    if n % 2 == 0:
                        record(static, *timed_get(http, found.static_url + key))
            cpu[mode] = (cpu_seconds(found.server.pid) - before) / (sent / 1e9)
    return Measured(accel, static, cpu)
