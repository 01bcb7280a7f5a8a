"""`artifactsvc serve` as a real process (uvicorn, one worker), with its pid and its /metrics.

Like `tests.support.serve_process`, but the pid is kept: the memory figures read the server's
/proc/PID/status, and the cold-read figure needs a fresh process per trial.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procstat import Memory, memory
from tests.support import free_port

START_TIMEOUT = 30.0
_STORAGE = re.compile(r'^artifactsvc_storage_requests_total\{verb="(\w+)"\} (\d+)$', re.M)


@dataclass(frozen=True)
class Service:
    base_url: str
    pid: int
    log: Path

    def memory(self) -> Memory:
        return memory(self.pid)

    def storage_requests(self, http: httpx.Client) -> dict[str, int]:
        """The server's own count of object-storage requests so far, by verb."""
        response = http.get(f"{self.base_url}/metrics")
        response.raise_for_status()
        return {verb: int(n) for verb, n in _STORAGE.findall(response.text)}

    def storage_gets(self, http: httpx.Client) -> int:
        return self.storage_requests(http).get("get", 0)


@contextmanager
def service_process(env: dict[str, str], *, cwd: Path) -> Iterator[Service]:
    """Start the server on a free loopback port; stop it (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "ARTIFACTSVC_HOST": "127.0.0.1",
        "ARTIFACTSVC_PORT": str(port),
        "ARTIFACTSVC_EXTERNAL_URL": f"http://127.0.0.1:{port}",
    }
    log = cwd / f"server-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "artifactsvc", "serve"],
            env=full_env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"artifactsvc serve exited:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{base}/-/liveness", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"artifactsvc serve did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)
        yield Service(base, process.pid, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
