"""Single files, listings and folders out of a stored archive, through its persisted index.

A lookup never parses a central directory: the index directory comes with the artifact's
row, the one bucket that can hold the name comes from the in-process cache or one ranged
read of the sidecar, and the member is one ranged read of the archive pinned to its ETag.
When the index is missing or was built for another version of the archive (its ETag
differs), it is rebuilt once, lazily, and recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from artifactsvc.archives import StoreSource, async_iter, index_archive
from artifactsvc.errors import ArtifactNotFound, BadRequest, CorruptArchive, ObjectNotFound
from artifactsvc.metadata import MetadataStore
from artifactsvc.models import Artifact, utcnow
from artifactsvc.objects import ObjectInfo, ObjectStore
from artifactsvc.ziprange import (
    BucketCache,
    Entry,
    EntryKind,
    IndexDirectory,
    ensure_readable,
    iter_entries,
    iter_index_entries,
    iter_raw_members,
    lookup,
    read_member,
    write_zip,
)

T = TypeVar("T")

# A listing page is sorted by path, so building it holds page * per_page entries at most.
MAX_LISTING_WINDOW = 50_000


@dataclass(frozen=True)
class TreeEntry:
    path: str
    kind: str  # "file", "directory" or "symlink"
    entry: Entry | None  # None for a folder implied by deeper paths


@dataclass(frozen=True)
class TreePage:
    entries: list[TreeEntry]
    total: int


class ArchiveFiles:
    def __init__(
        self,
        store: MetadataStore,
        objects: ObjectStore,
        executor: ThreadPoolExecutor,
        *,
        cache_bytes: int = 64 << 20,
    ) -> None:
        self._store = store
        self._objects = objects
        self._executor = executor
        self._cache = BucketCache(cache_bytes)
        self._rebuilds: dict[tuple[str, str], asyncio.Future[tuple[IndexDirectory, str]]] = {}

    async def _directory(self, artifact: Artifact) -> tuple[IndexDirectory, str]:
        """The archive's index directory and sidecar key, rebuilding a missing or stale one."""
        if artifact.index_directory is not None and artifact.index_key is not None:
            try:
                directory = IndexDirectory.from_bytes(artifact.index_directory)
            except CorruptArchive:
                directory = None
            if directory is not None and directory.archive_etag == artifact.etag:
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
        built = await index_archive(self._objects, info, self._executor, index_key)
        await self._store.set_artifact_index(artifact, index_key, built.directory.to_bytes())
        return built.directory, index_key

    def _sidecar(self, key: str, directory: IndexDirectory) -> StoreSource:
        loop = asyncio.get_running_loop()
        return StoreSource(self._objects, key, directory.sidecar_size, None, loop)

    def _archive(self, artifact: Artifact) -> StoreSource:
        loop = asyncio.get_running_loop()
        return StoreSource(self._objects, artifact.object_key, artifact.size, artifact.etag, loop)

    async def find(self, artifact: Artifact, path: str) -> Entry:
        """The regular file named exactly `path`; ArtifactNotFound for anything else."""
        directory, key = await self._directory(artifact)
        sidecar = self._sidecar(key, directory)
        loop = asyncio.get_running_loop()
        try:
            entry = await loop.run_in_executor(
                self._executor, lambda: lookup(directory, sidecar, path, self._cache)
            )
        except (ObjectNotFound, CorruptArchive):
            # The sidecar vanished or is damaged (deleted by hand, a partial restore, a
            # truncated copy): lookups only read the sidecar, so rebuild it once.
            stale = dataclasses.replace(artifact, index_directory=None)
            directory, key = await self._directory(stale)
            sidecar = self._sidecar(key, directory)
            entry = await loop.run_in_executor(
                self._executor, lambda: lookup(directory, sidecar, path, self._cache)
            )
        if entry is None or entry.kind != EntryKind.FILE:
            raise ArtifactNotFound()
        ensure_readable(entry)
        return entry

    def read(
        self, artifact: Artifact, entry: Entry, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The member's bytes (or a slice), inflated and CRC-checked as they stream.

        The last chunk is held back until the member has been verified (CRC, size), so a
        mismatch aborts the response before its final byte: with Content-Length framing a
        body that arrived whole would otherwise pass for a good one.
        """
        source = self._archive(artifact)
        return async_iter(
            lambda: _held_back(read_member(source, entry, offset=offset, length=length)),
            self._executor,
        )

    async def _scan(self, artifact: Artifact, visit: Callable[[Iterator[Entry]], T]) -> T:
        """`visit(every index entry)` on the pool; a vanished or damaged sidecar is rebuilt once."""
        loop = asyncio.get_running_loop()

        async def attempt(directory: IndexDirectory, key: str) -> T:
            sidecar = self._sidecar(key, directory)
            return await loop.run_in_executor(
                self._executor, lambda: visit(iter_index_entries(sidecar, directory))
            )

        directory, key = await self._directory(artifact)
        try:
            return await attempt(directory, key)
        except (ObjectNotFound, CorruptArchive):
            stale = dataclasses.replace(artifact, index_directory=None)
            return await attempt(*await self._directory(stale))

    async def tree(
        self, artifact: Artifact, folder: str, *, recursive: bool, offset: int, limit: int
    ) -> TreePage:
        """One page of the folder's listing, sorted by path, with folders implied by paths."""
        if offset + limit > MAX_LISTING_WINDOW:
            raise BadRequest("is too large; list a subfolder instead", field="page")
        prefix = f"{folder}/" if folder else ""

        def scan(entries: Iterator[Entry]) -> TreePage:
            implied: set[str] = set()
            # Only folder entries: a set of every name would grow with the archive.
            explicit: set[str] = set()
            window: list[_Desc] = []  # a max-heap of the smallest paths seen
            total = 0

            def offer(item: TreeEntry) -> None:
                nonlocal total
                total += 1
                heapq.heappush(window, _Desc(item))
                if len(window) > offset + limit:
                    heapq.heappop(window)

            for entry in entries:
                name = entry.name.rstrip("/")
                if not name.startswith(prefix) or name == folder:
                    continue
                parts = name[len(prefix) :].split("/")
                if not recursive and len(parts) > 1:
                    implied.add(prefix + parts[0])
                    continue
                for depth in range(1, len(parts)):
                    implied.add(prefix + "/".join(parts[:depth]))
                if entry.kind == EntryKind.DIRECTORY:
                    explicit.add(name)
                offer(TreeEntry(name, _kind(entry), entry))
            for child in sorted(implied - explicit):
                offer(TreeEntry(child, "directory", None))
            ordered = sorted(window, key=lambda d: d.item.path)
            return TreePage([d.item for d in ordered][offset : offset + limit], total)

        return await self._scan(artifact, scan)

    def folder_zip(self, artifact: Artifact, folder: str) -> AsyncIterator[bytes]:
        """The folder as a new zip, members copied still compressed (no re-deflate)."""
        prefix = f"{folder}/" if folder else ""

        async def run() -> AsyncIterator[bytes]:
            directory, _ = await self._directory(artifact)
            archive = self._archive(artifact)

            def produce() -> Iterator[bytes]:
                # The archive's own central directory, streamed in one read, gives the
                # entries in archive order, so neighbouring members share ranged reads and
                # nothing grows with the folder's size.
                listed = iter_entries(
                    archive.stream(directory.cd_offset, directory.cd_size), directory.entry_count
                )
                chosen = (
                    entry
                    for entry in listed
                    if entry.name.startswith(prefix)
                    and entry.kind in (EntryKind.FILE, EntryKind.DIRECTORY)
                )
                first = next(chosen, None)
                if first is None:
                    raise ArtifactNotFound()
                yield from write_zip(iter_raw_members(archive, _readable(first, chosen)))

            async for chunk in async_iter(produce, self._executor):
                yield chunk

        return run()


def _readable(first: Entry, rest: Iterator[Entry]) -> Iterator[Entry]:
    """`first`, then `rest`, each checked readable (not encrypted, a known method) as it
    comes: the first check happens before any byte of the response is sent."""
    ensure_readable(first)
    yield first
    for entry in rest:
        if entry.kind == EntryKind.FILE:
            ensure_readable(entry)
        yield entry


def _held_back(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Yield each chunk once the next one has arrived, and the last once `chunks` has ended."""
    held: bytes | None = None
    for chunk in chunks:
        if held is not None:
            yield held
        held = chunk
    if held is not None:
        yield held


class _Desc:
    """Reverses the order so heapq's min-heap keeps the smallest paths (pops the largest)."""

    __slots__ = ("item",)

    def __init__(self, item: TreeEntry) -> None:
        self.item = item

    def __lt__(self, other: _Desc) -> bool:
        return self.item.path > other.item.path


def _kind(entry: Entry) -> str:
    return {
        EntryKind.FILE: "file",
        EntryKind.DIRECTORY: "directory",
        EntryKind.SYMLINK: "symlink",
    }[entry.kind]
