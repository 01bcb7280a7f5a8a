"""Readiness: whether the metadata store and object storage answer, each within a timeout."""

from __future__ import annotations

import asyncio
import logging

from artifactsvc.errors import ArtifactsvcError
from artifactsvc.metadata import MetadataStore
from artifactsvc.objects import ObjectStore

log = logging.getLogger("artifactsvc.ops")
READINESS_TIMEOUT = 5.0


class HealthService:
    def __init__(self, store: MetadataStore, objects: ObjectStore) -> None:
        self._store = store
        self._objects = objects

    async def readiness(self, timeout: float = READINESS_TIMEOUT) -> dict[str, bool]:
        """Each dependency by name, and whether it answered."""
        # Callables, not coroutines: each probe is created only when it is awaited.
        probes = {"metadata": self._store.ping, "storage": self._objects.ping}
        checks: dict[str, bool] = {}
        for name, probe in probes.items():
            try:
                await asyncio.wait_for(probe(), timeout)
                checks[name] = True
            except (ArtifactsvcError, TimeoutError) as error:
                log.warning("readiness: %s failed: %r", name, error)
                checks[name] = False
        return checks
