"""Real processes: `artifactsvc serve` on a free loopback port (with its pid and log), one-shot
`artifactsvc` commands, free ports, and a process's peak memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ServerProcess:
    """A running `artifactsvc serve`: where it answers, its pid, and the file it logs to."""

    base_url: str
    pid: int
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)


@contextmanager
def server_process(
    env: dict[str, str], *, cwd: Path, start_timeout: float = 30.0, args: Sequence[str] = ()
) -> Iterator[ServerProcess]:
    """`artifactsvc serve ARGS` as a real process on a free loopback port, once it answers
    /-/liveness. Stopped afterwards (SIGTERM, then SIGKILL)."""
    port = free_port()
    full_env = {**os.environ, **env, "ARTIFACTSVC_PORT": str(port)}
    full_env.setdefault("ARTIFACTSVC_EXTERNAL_URL", f"http://127.0.0.1:{port}")
    # Stopped with SIGTERM at teardown: no load balancer to drain from here (tests of the
    # drain itself set their own).
    full_env.setdefault("ARTIFACTSVC_SHUTDOWN_DRAIN", "0.1")
    log_path = cwd / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "artifactsvc", "serve", *args],
            env=full_env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(log_path.read_text())
            try:
                with urllib.request.urlopen(f"{base}/-/liveness", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield ServerProcess(base, process.pid, log_path, process)
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def run_artifactsvc(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m artifactsvc ARGS` as a real process with ARTIFACTSVC_* taken from `env` only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    return subprocess.run(
        [sys.executable, "-m", "artifactsvc", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the most the process has held resident so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise LookupError(f"no VmHWM for pid {pid}")


def wait_for(check: Callable[[], bool], *, timeout: float = 15.0, what: str = "") -> None:
    """Poll `check` until it holds (something another process or thread does); fail after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)
