"""An archive's persisted index: built once at upload, found again on every read.

`index_archive` parses the central directory once and stores the sidecar beside the
archive. `ArchiveIndex` hands reads the index directory (which comes with the artifact's
row) and a source over the sidecar; when the index is missing or was built for another
version of the archive (its ETag differs), it is rebuilt once, lazily, and recorded. No read
ever parses the central directory again (see docs/index.md).
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Protocol, TypeVar

from artifactsvc import pools
from artifactsvc.errors import CorruptArchive, DamagedArchive, ObjectNotFound
from artifactsvc.metadata import ArtifactStore
from artifactsvc.models import Artifact, utcnow
from artifactsvc.objects import ObjectInfo, ObjectStore
from artifactsvc.streams import StoreSource
from artifactsvc.ziprange import BucketCache, IndexDirectory, RangeSource, build_index
from artifactsvc.ziprange.control import WorkControl

T = TypeVar("T")

SPOOL_CHUNK = 1 << 20


@dataclass(frozen=True)
class IndexLimits:
    """What an index build is held to and records (settings MAX_PATH_DEPTH, MAX_NAME_BYTES,
    SEEK_POINT_SPACING, INDEX_INFLATE_BUDGET); None: unbounded."""

    max_depth: int | None = None
    max_name_bytes: int | None = None
    seek_spacing: int = 0
    """Seek points in large deflated members about this many bytes apart (0: none)."""
    seek_budget: int = 0
    """The most an index build inflates to record them."""


class BuildIndex(Protocol):
    """Runs `ziprange.build_index` for one archive, on the calling (index) thread or in a
    worker process (`indexworkers`): the sidecar written to `out`, its directory returned."""

    def __call__(
        self,
        source: RangeSource,
        out: BinaryIO,
        etag: str,
        limits: IndexLimits,
        control: WorkControl,
    ) -> IndexDirectory: ...


def build_here(
    source: RangeSource, out: BinaryIO, etag: str, limits: IndexLimits, control: WorkControl
) -> IndexDirectory:
    """`BuildIndex` on the calling thread (setting INDEX_PROCESSES false)."""
    return build_index(
        source,
        out,
        etag=etag,
        max_depth=limits.max_depth,
        max_name_bytes=limits.max_name_bytes,
        control=control,
        seek_spacing=limits.seek_spacing,
        seek_budget=limits.seek_budget,
    )


@dataclass(frozen=True)
class BuiltIndex:
    key: str
    directory: IndexDirectory
    size: int


async def index_archive(
    objects: ObjectStore,
    info: ObjectInfo,
    executor: ThreadPoolExecutor,
    index_key: str,
    *,
    limits: IndexLimits = IndexLimits(),  # noqa: B008 (frozen, so shared safely)
    builder: BuildIndex = build_here,
) -> BuiltIndex:
    """Parse the archive's central directory once and store its index as a sidecar object.

    Raises InvalidArchive when the object is not a zip or breaks `limits`, CorruptArchive
    when it is damaged. The sidecar is spooled to a temporary file (never held in memory)
    and then uploaded. A caller that goes away stops the build at its next entry.
    """
    loop = asyncio.get_running_loop()
    control = WorkControl()
    with tempfile.TemporaryFile() as spool:
        source = StoreSource.of(objects, info, loop)

        def build() -> IndexDirectory:
            return builder(source, spool, info.etag, limits, control)

        directory = await pools.call(executor, build, control)
        size = spool.seek(0, 2)
        spool.seek(0)

        async def chunks() -> AsyncIterator[bytes]:
            while block := await loop.run_in_executor(executor, spool.read, SPOOL_CHUNK):
                yield block

        await objects.put_stream(index_key, chunks())
        return BuiltIndex(index_key, directory, size)


class ArchiveIndex:
    """Index directories and sidecars of stored archives, with an in-process bucket cache."""

    def __init__(
        self,
        store: ArtifactStore,
        objects: ObjectStore,
        executor: ThreadPoolExecutor,
        *,
        cache_bytes: int = 64 << 20,
        limits: IndexLimits = IndexLimits(),  # noqa: B008 (frozen)
        builder: BuildIndex = build_here,
    ) -> None:
        self._store = store
        self._objects = objects
        self._executor = executor
        self._limits = limits
        self._builder = builder
        self.cache = BucketCache(cache_bytes)
        self._rebuilds: dict[tuple[str, str], asyncio.Future[tuple[IndexDirectory, str]]] = {}

    def recorded(self, artifact: Artifact) -> IndexDirectory | None:
        """The index directory the artifact's row carries, if it is whole and describes this
        version of the archive; else None (`directory` rebuilds it)."""
        if artifact.index_directory is None or artifact.index_key is None:
            return None
        try:
            directory = IndexDirectory.from_bytes(artifact.index_directory)
        except CorruptArchive:
            return None
        return directory if directory.archive_etag == artifact.etag else None

    async def directory(self, artifact: Artifact) -> tuple[IndexDirectory, str]:
        """The archive's index directory and sidecar key, rebuilding a missing or stale one."""
        directory = self.recorded(artifact)
        if directory is not None and artifact.index_key is not None:
            return directory, artifact.index_key
        # Concurrent reads of one archive share one rebuild (per process).
        flight = (artifact.object_key, artifact.etag)
        task = self._rebuilds.get(flight)
        if task is None:
            task = asyncio.ensure_future(self._rebuild(artifact))
            self._rebuilds[flight] = task
            task.add_done_callback(lambda _: self._rebuilds.pop(flight, None))
        return await asyncio.shield(task)

    async def _rebuild(self, artifact: Artifact) -> tuple[IndexDirectory, str]:
        info = ObjectInfo(
            artifact.object_key, artifact.size, artifact.etag, artifact.created_at or utcnow()
        )
        # A key of its own: a rebuild elsewhere (another request or process) must never
        # overwrite the sidecar whose offsets this directory holds. The one the row no longer
        # names is left to `gc`.
        index_key = f"{artifact.object_key}.index-{uuid.uuid4().hex}"
        try:
            built = await index_archive(
                self._objects,
                info,
                self._executor,
                index_key,
                limits=self._limits,
                builder=self._builder,
            )
        except CorruptArchive as error:
            # The archive itself is damaged (our index is not involved): every rebuild would
            # meet the same bytes, so it is a 4xx, not a 500 retried for ever.
            raise DamagedArchive(str(error)) from None
        await self._store.set_artifact_index(artifact, index_key, built.directory.to_bytes())
        return built.directory, index_key

    def sidecar(self, key: str, directory: IndexDirectory) -> RangeSource:
        """Reads of the sidecar for work on a pool thread: made on that thread when the store
        can (a first read's bucket costs one hop, not a round trip through the loop and the
        storage pool), else through the async verbs."""
        direct = self._objects.blocking_range(key, directory.sidecar_size)
        if direct is not None:
            return direct
        loop = asyncio.get_running_loop()
        return StoreSource(self._objects, key, directory.sidecar_size, None, loop)

    async def with_index(
        self,
        artifact: Artifact,
        work: Callable[[IndexDirectory, RangeSource], T],
        *,
        executor: Executor,
        control: WorkControl | None = None,
    ) -> T:
        """`work(directory, sidecar)` on `executor`. Lookups only read the sidecar, so one that
        vanished or is damaged (deleted by hand, a partial restore, a truncated copy) is
        rebuilt once and the work done again. A caller that goes away cancels `control`,
        which long work checks as it goes."""

        async def attempt(directory: IndexDirectory, key: str) -> T:
            sidecar = self.sidecar(key, directory)
            return await pools.call(executor, lambda: work(directory, sidecar), control)

        try:
            return await attempt(*await self.directory(artifact))
        except DamagedArchive:
            raise
        except (ObjectNotFound, CorruptArchive):
            stale = dataclasses.replace(artifact, index_directory=None)
            return await attempt(*await self.directory(stale))
