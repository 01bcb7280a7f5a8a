"""`artifactsvc serve` as a real process (uvicorn, one worker), with its pid and its /metrics.

Built on `tests.support.processes.server_process`; the pid is kept: the memory figures read
the server's /proc/PID/status, and the cold-read figure needs a fresh process per trial.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procstat import Memory, memory
from tests.support.processes import server_process

START_TIMEOUT = 30.0
# prometheus-client writes counter values as floats (`12.0`).
_STORAGE = re.compile(r'^artifactsvc_storage_requests_total\{verb="(\w+)"\} ([0-9.e+]+)$', re.M)


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
        return {verb: int(float(n)) for verb, n in _STORAGE.findall(response.text)}

    def storage_gets(self, http: httpx.Client) -> int:
        return self.storage_requests(http).get("get", 0)


@contextmanager
def service_process(env: dict[str, str], *, cwd: Path) -> Iterator[Service]:
    """Start the server on a free loopback port; stop it (SIGTERM, then SIGKILL) afterwards."""
    pinned = {**env, "ARTIFACTSVC_HOST": "127.0.0.1"}
    with server_process(pinned, cwd=cwd, start_timeout=START_TIMEOUT) as server:
        yield Service(server.base_url, server.pid, server.log)
