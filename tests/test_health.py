"""Readiness never outwaits its own timeout, even when a probe's thread is blocked."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from artifactsvc.blocking import call
from artifactsvc.health import HealthService
from tests.support.streams import run


class _Probe:
    """A dependency whose ping runs on a thread, blocked until `release` when `hung`."""

    def __init__(self, executor: ThreadPoolExecutor, *, hung: bool) -> None:
        self._executor = executor
        self.hung = hung
        self.release = threading.Event()

    async def ping(self) -> None:
        if self.hung:
            # Waits for the started thread when cancelled, as every storage call does.
            await call(self._executor, lambda: self.release.wait(10))


def test_readiness_answers_at_its_timeout_while_a_probe_thread_is_blocked() -> None:
    async def scenario() -> None:
        with ThreadPoolExecutor(2) as executor:
            metadata = _Probe(executor, hung=False)
            storage = _Probe(executor, hung=True)
            health = HealthService(cast(Any, metadata), cast(Any, storage))
            started = time.monotonic()
            checks = await health.readiness(timeout=0.3)
            elapsed = time.monotonic() - started
            storage.release.set()
            await asyncio.sleep(0.05)
        assert checks == {"metadata": True, "storage": False}
        assert elapsed < 1.0, f"readiness took {elapsed:.2f} s"

    run(scenario())


def test_both_probes_blocked_still_cost_one_timeout_not_two() -> None:
    async def scenario() -> None:
        with ThreadPoolExecutor(2) as executor:
            probes = [_Probe(executor, hung=True) for _ in range(2)]
            health = HealthService(cast(Any, probes[0]), cast(Any, probes[1]))
            started = time.monotonic()
            checks = await health.readiness(timeout=0.3)
            elapsed = time.monotonic() - started
            for probe in probes:
                probe.release.set()
            await asyncio.sleep(0.05)
        assert checks == {"metadata": False, "storage": False}
        assert elapsed < 0.55, f"readiness took {elapsed:.2f} s"

    run(scenario())
