"""Debian's nginx as a real process in front of a real `artifactsvc serve`, configured by the
output of `artifactsvc nginx-config` exactly as an operator would run it.

Everything nginx writes (pid, temporary files, access log) stays under the directory given,
and it listens on a free loopback port, so any number can run beside a system nginx.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import run_artifactsvc, stop_process

NGINX = "/usr/sbin/nginx"


def have_nginx() -> bool:
    return shutil.which(NGINX) is not None


@dataclass(frozen=True)
class NginxProcess:
    base_url: str
    config: str
    directory: Path
    pid: int

    @property
    def access_log(self) -> Path:
        return self.directory / "state" / "access.log"


def nginx_config(env: dict[str, str], *, cwd: Path, args: tuple[str, ...]) -> str:
    """`artifactsvc nginx-config ARGS` for the service's `env`, as an operator runs it."""
    done = run_artifactsvc("nginx-config", *args, env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def nginx_process(
    service_env: dict[str, str],
    *,
    directory: Path,
    port: int,
    extra: str = "",
    start_timeout: float = 15.0,
) -> Iterator[NginxProcess]:
    """nginx on loopback `port` with the configuration `artifactsvc nginx-config` prints for
    `service_env` (the ARTIFACTSVC_* the service runs with, its PORT included), once it
    answers. `extra`: more of the http block (a baseline's server), added at its end."""
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "state"
    state.mkdir(exist_ok=True)
    args = ("--listen", f"127.0.0.1:{port}", "--state-dir", str(state))
    config = nginx_config(service_env, cwd=directory, args=args)
    if extra:
        config = config.rstrip().removesuffix("}") + extra + "}\n"
    conf = directory / "nginx.conf"
    conf.write_text(config)
    globals_ = f"daemon off; pid {directory}/nginx.pid; error_log stderr;"
    # nginx runs as whoever starts it; as root it would switch its workers to `nobody`, who
    # may not read the storage directory: keep them root (only ever in tests, on loopback).
    user = "user root;" if os.geteuid() == 0 else ""
    log = (directory / "nginx.log").open("wb")
    process = subprocess.Popen(
        [NGINX, "-p", str(directory), "-c", str(conf), "-g", globals_ + user],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError((directory / "nginx.log").read_text() + config)
            try:
                urllib.request.urlopen(f"{base}/-/liveness", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # nginx answers: the service behind it is another matter
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield NginxProcess(base, config, directory, process.pid)
    finally:
        stop_process(process)
