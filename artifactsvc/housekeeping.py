"""Housekeeping: expired artifacts swept from storage and metadata, orphans collected.

What `artifactsvc expire` and `artifactsvc gc` (and their Kubernetes CronJobs) run. Both are
safe to run in several places at once: the database decides which runner deletes a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from artifactsvc.artifacts import delete_objects
from artifactsvc.metadata import ArtifactStore
from artifactsvc.models import utcnow
from artifactsvc.objects import ObjectStore
from artifactsvc.progress import Advance, ignore


@dataclass(frozen=True)
class ExpireReport:
    deleted: int
    bytes: int
    failed: int


class Housekeeping:
    def __init__(
        self,
        store: ArtifactStore,
        objects: ObjectStore,
        *,
        keep_latest: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._objects = objects
        self.keep_latest = keep_latest
        self._clock = clock

    async def expire(self, *, batch: int = 500, advance: Advance = ignore) -> ExpireReport:
        """Deletes expired, unlocked artifacts: row first, then objects. `advance(1)` after
        each artifact dealt with (deleted, or taken by another runner).

        Safe to run twice at once: a row is deleted by exactly one runner (the conditional
        DELETE), and only that runner deletes its objects.
        """
        deleted = size = failed = 0
        seen: set[tuple[int, str, str]] = set()
        while True:
            found = await self._store.expired_artifacts(
                self._clock(), keep_latest=self.keep_latest, limit=batch
            )
            fresh = [a for a in found if (a.job_id, a.file_type, a.object_key) not in seen]
            if not fresh:
                return ExpireReport(deleted, size, failed)
            for artifact in fresh:
                seen.add((artifact.job_id, artifact.file_type, artifact.object_key))
                advance(1)
                if not await self._store.delete_artifact_row(artifact):
                    continue  # another runner took it
                if await delete_objects(self._objects, artifact.object_key, artifact.index_key):
                    deleted += 1
                    size += artifact.size
                else:
                    failed += 1

    async def gc(
        self, *, grace: timedelta = timedelta(hours=1), advance: Advance = ignore
    ) -> tuple[int, int]:
        """Removes objects no row names (older than `grace`) and stale multipart uploads.
        `advance(n)` after each batch of `n` stored objects checked."""
        cutoff = self._clock() - grace
        orphans = 0
        pending: list[tuple[str, datetime]] = []

        async def flush() -> int:
            known = await self._store.known_object_keys([key for key, _ in pending])
            removed = 0
            for key, modified in pending:
                if key not in known and modified < cutoff:
                    await self._objects.delete(key)
                    removed += 1
            advance(len(pending))
            pending.clear()
            return removed

        async for info in self._objects.list("projects/"):
            pending.append((info.key, info.last_modified))
            if len(pending) >= 500:
                orphans += await flush()
        orphans += await flush()
        aborted = await self._objects.abort_stale_uploads(cutoff)
        return orphans, aborted
