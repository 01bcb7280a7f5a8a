"""Readiness: whether the metadata store and object storage answer, each within a timeout.

The probes run side by side and the answer never waits past the timeout: a probe still
running then is left to finish for nobody (its thread may be blocked on a hung store, and
waiting for it is what made readiness as slow as the outage).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from artifactsvc.errors import ArtifactsvcError
from artifactsvc.metadata import MetadataStore
from artifactsvc.objects import ObjectStore

log = logging.getLogger("artifactsvc.ops")
# Startup waits at most this long for a dependency that does not answer.
WARM_UP_TIMEOUT = 1.0
READINESS_TIMEOUT = 5.0


class HealthService:
    def __init__(self, store: MetadataStore, objects: ObjectStore) -> None:
        self._store = store
        self._objects = objects
        self._abandoned: set[asyncio.Task[None]] = set()

    async def readiness(self, timeout: float = READINESS_TIMEOUT) -> dict[str, bool]:
        """Each dependency by name, and whether it answered within `timeout` seconds."""
        probes: dict[str, Callable[[], Awaitable[None]]] = {
            "metadata": self._store.ping,
            "storage": self._objects.ping,
        }
        tasks = {name: asyncio.ensure_future(probe()) for name, probe in probes.items()}
        await asyncio.wait(tasks.values(), timeout=timeout)
        checks: dict[str, bool] = {}
        for name, task in tasks.items():
            checks[name] = self._answered(name, task, timeout)
        return checks

    async def warm_up(self, timeout: float = WARM_UP_TIMEOUT) -> None:
        """Ask each dependency once before serving, so that a fresh process's first request
        does not pay for the storage client's first call (its endpoint rules, a connection)
        or a metadata connection. One that does not answer is only logged: the process serves
        anyway, and readiness reports it."""
        await self.readiness(timeout)

    def _answered(self, name: str, task: asyncio.Task[None], timeout: float) -> bool:
        if not task.done():
            log.warning("readiness: %s did not answer within %s s", name, timeout)
            # Cancelled but not awaited; kept referenced until it ends.
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(_settle(self._abandoned))
            return False
        error = task.exception()
        if error is None:
            return True
        if not isinstance(error, ArtifactsvcError):
            raise error
        log.warning("readiness: %s failed: %r", name, error)
        return False


def _settle(abandoned: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as lost

    return done
