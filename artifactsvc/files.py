"""Single files, listings and folder zips out of stored archives: the archive-reading service.

A lookup never parses a central directory: the index directory comes with the artifact's
row, the one bucket that can hold the name comes from the in-process cache or one ranged
read of the sidecar (indexing.py), and the member is one ranged read of the archive pinned
to its ETag, inflated and verified as it streams. No HTTP here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from artifactsvc import pools
from artifactsvc.access import Access
from artifactsvc.artifacts import ArtifactService, Download
from artifactsvc.errors import ArtifactNotFound, DamagedArchive, NoArchiveToList
from artifactsvc.indexing import ArchiveIndex
from artifactsvc.listing import (
    DEFAULT_MAX_FOLDERS,
    TreePage,
    check_window,
    gitlab_folder,
    indexed_folder,
    list_folder,
)
from artifactsvc.models import Artifact
from artifactsvc.objects import ObjectStore
from artifactsvc.objects.port import Offload
from artifactsvc.paths import basename, safe_to_extract
from artifactsvc.pools import ZipWork
from artifactsvc.streams import StoreSource, from_thread
from artifactsvc.ziprange import (
    UNCACHED,
    Entry,
    EntryKind,
    IndexDirectory,
    RangeSource,
    ensure_readable,
    iter_entries,
    iter_index_buckets,
    iter_index_entries,
    iter_raw_members,
    lookup,
    lookup_cached,
    read_member,
    write_zip,
)
from artifactsvc.ziprange.control import WorkControl, watched
from artifactsvc.ziprange.decompress import STORED
from artifactsvc.ziprange.member import local_header_length, max_header_length
from artifactsvc.ziprange.seekindex import choose_point

# The largest cached index bucket a lookup scans on the event loop: about 0.07 ms of Python
# per 32 KiB, the size index builds aim for (buckets come out around it, either side); a
# larger one is scanned on a pool thread.
LOOKUP_ON_LOOP_BYTES = 64 << 10
# A slice at most this long is read whole, in one call on a pool thread, and sent as one
# body. Streamed, its last chunk (all of it, in one 256 KiB read) would be held back until
# verified anyway (`_held_back`), so this buffers no more, and saves the streaming handoff
# between threads and a streaming response (a task group, a second task) on each small read.
WHOLE_READ_BYTES = 256 << 10
# A slice starting this far into a deflated member looks for a seek point first (a few small
# reads of the index, cached); closer ones inflate from the start.
SEEK_FROM = 1 << 20


@dataclass(frozen=True)
class RefTarget:
    """One reading of a by-ref path: the ref, and the file in its archive (None: the archive)."""

    ref: str
    path: str | None


@dataclass(frozen=True)
class MemberFile:
    """One regular file of a stored archive, found through the index, ready to be read."""

    artifact: Artifact
    entry: Entry
    path: str
    files: FileService = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return basename(self.path)

    @property
    def etag(self) -> str:
        # The archive's version and the member's place in it: unique, and stable across reads.
        return f"{self.artifact.etag}-{self.entry.local_header_offset:x}"

    @property
    def size(self) -> int:
        return self.entry.uncompressed_size

    @property
    def modified(self) -> datetime | None:
        return self.artifact.created_at

    def read(self, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        return self.files.read(self.artifact, self.entry, offset, length)

    async def read_whole(self, offset: int, length: int) -> bytes:
        """A slice of at most WHOLE_READ_BYTES, read and verified at once (`read_whole`)."""
        return await self.files.read_whole(self.artifact, self.entry, offset, length)

    async def offload(self, disposition: str) -> StoredSpan | None:
        """Where a proxy in front can fetch this member's bytes itself (DOWNLOAD_MODE=accel),
        or None: see `FileService.offload`."""
        return await self.files.offload(self.artifact, self.entry, disposition)

    async def head(self, length: int) -> bytes:
        """The member's first `length` bytes (fewer if it is shorter)."""
        length = min(length, self.size)
        if length == 0:
            return b""
        return b"".join([chunk async for chunk in self.read(0, length)])


@dataclass(frozen=True)
class StoredSpan:
    """A stored member as contiguous bytes of its archive: the archive's offload target, the
    archive's version (to pin the fetch to), and the offset of the member's first byte."""

    target: Offload
    archive_etag: str
    start: int


@dataclass(frozen=True)
class ReadLimits:
    """What one request may cost (settings INFLATE_BUDGET and LISTING_MAX_FOLDERS)."""

    inflate_budget: int | None = None
    max_folders: int = DEFAULT_MAX_FOLDERS


class FileService:
    """Reads of stored archives, each kind on its own pool of `work` (pools.py)."""

    def __init__(
        self,
        artifacts: ArtifactService,
        index: ArchiveIndex,
        objects: ObjectStore,
        work: ZipWork,
        limits: ReadLimits = ReadLimits(),  # noqa: B008 (frozen)
    ) -> None:
        self._artifacts = artifacts
        self._index = index
        self._objects = objects
        self._work = work
        self._limits = limits

    async def file(self, access: Access, job_id: int, path: str) -> MemberFile:
        """The regular file named exactly `path` in the job's archive; else ArtifactNotFound."""
        return await self.find(await self._artifacts.archive_for(access, job_id), path)

    async def by_ref(
        self, access: Access, targets: Sequence[RefTarget], job: str | None, *, recent: bool
    ) -> Download | MemberFile:
        """The first target whose ref has a matching job: its archive, or the file in it.

        A ref may hold `/` (and even `raw`), so one URL can be read several ways; a reading
        whose ref finds no job gives way to the next, a found job without the file does not.
        """
        last_error = ArtifactNotFound()
        for target in targets:
            if target.path is None:
                try:
                    archive = await self._artifacts.ref_archive(
                        access, target.ref, job, recent=recent
                    )
                except ArtifactNotFound as error:
                    last_error = error
                    continue
                return self._artifacts.download_of(archive)
            try:
                found = await self._artifacts.ref_job(access, target.ref, job, recent=recent)
            except ArtifactNotFound as error:
                last_error = error
                continue
            return await self.find(
                await self._artifacts.readable_archive(access, found), target.path
            )
        raise last_error

    async def find(self, artifact: Artifact, path: str) -> MemberFile:
        # A warm lookup (the bucket cached, and not large) is a short scan: made here, it
        # saves the hop to a pool thread and back (~0.2 ms on a busy 2-core machine).
        recorded = self._index.recorded(artifact)
        cache = self._index.cache
        entry = (
            UNCACHED
            if recorded is None
            else lookup_cached(recorded, path, cache, max_bytes=LOOKUP_ON_LOOP_BYTES)
        )
        if entry is UNCACHED:
            entry = await self._index.with_index(
                artifact,
                lambda directory, sidecar: lookup(directory, sidecar, path, cache),
                executor=self._work.reads,
            )
        if entry is None or entry.kind != EntryKind.FILE:
            raise ArtifactNotFound()
        ensure_readable(entry)
        return MemberFile(artifact, entry, path, self)

    def read(
        self, artifact: Artifact, entry: Entry, offset: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The member's bytes (or a slice), inflated and CRC-checked as they stream.

        The last chunk is held back until the member has been verified (CRC, size), so a
        mismatch aborts the response before its final byte: with Content-Length framing a
        body that arrived whole would otherwise pass for a good one.

        A slice that would inflate more than the budget before its first byte is refused
        (InflateBudgetExceeded, before the response starts); closing the iterator (the client
        went away) stops the inflate loop at its next step.
        """
        control = WorkControl(self._work.count_inflated)
        member = self._member_bytes(artifact, entry, offset, length, control)

        def produce() -> Iterator[bytes]:
            return _held_back(member())

        return from_thread(produce, self._work.reads, on_stop=lambda: self._stop(control))

    async def read_whole(self, artifact: Artifact, entry: Entry, offset: int, length: int) -> bytes:
        """`read`'s bytes at once, for a slice of at most WHOLE_READ_BYTES (ValueError past
        it): one call on the reads pool, verified before it returns. A caller that goes away
        stops the inflate loop at its next step."""
        if length > WHOLE_READ_BYTES:
            raise ValueError(f"{length} bytes are read as a stream, not whole")
        control = WorkControl(self._work.count_inflated)
        member = self._member_bytes(artifact, entry, offset, length, control)
        try:
            return await pools.call(self._work.reads, lambda: b"".join(member()), control)
        except asyncio.CancelledError:
            self._work.cancelled.add()
            raise

    def _member_bytes(
        self,
        artifact: Artifact,
        entry: Entry,
        offset: int,
        length: int | None,
        control: WorkControl,
    ) -> Callable[[], Iterator[bytes]]:
        """What reads the member's bytes, for a pool thread to call (it reads storage)."""
        source = self._member_source(artifact)
        budget = self._limits.inflate_budget
        seek = self._seek_points(artifact) if offset >= SEEK_FROM else None

        def chunks() -> Iterator[bytes]:
            point = None if seek is None else choose_point(*seek, entry, offset, self._index.cache)
            return read_member(
                source,
                entry,
                offset=offset,
                length=length,
                control=control,
                budget=budget,
                point=point,
            )

        return chunks

    async def offload(
        self, artifact: Artifact, entry: Entry, disposition: str
    ) -> StoredSpan | None:
        """A stored member's bytes as a range of its archive that the proxy in front fetches
        itself, when the store lets it fetch any range (`can_offload_ranges`); else None, and
        the service reads the member (a compressed one always: nginx cannot inflate).

        Costs one small read (the local header: its name and extra fields set where the data
        starts). Bytes sent this way skip the CRC-32 check, as any slice's do."""
        if entry.method != STORED or not self._objects.can_offload_ranges:
            return None
        header = await self._objects.get_range(
            artifact.object_key,
            entry.local_header_offset,
            max_header_length(entry),
            etag=artifact.etag,
        )
        start = entry.local_header_offset + local_header_length(header, entry)
        if start + entry.compressed_size > artifact.size:
            raise DamagedArchive(f"{entry.name!r} runs past the end of the archive")
        target = await self._objects.offload(artifact.object_key, disposition=disposition)
        return StoredSpan(target, artifact.etag, start)

    def _seek_points(self, artifact: Artifact) -> tuple[RangeSource, IndexDirectory] | None:
        """The sidecar and directory of the artifact's index, when it has seek points (the row
        carries the directory; one built before seek points existed has none)."""
        directory = self._index.recorded(artifact)
        if directory is None or directory.seek is None or artifact.index_key is None:
            return None
        return self._index.sidecar(artifact.index_key, directory), directory

    def _stop(self, control: WorkControl) -> None:
        control.cancel()
        self._work.cancelled.add()

    async def tree(
        self,
        access: Access,
        job_id: int,
        folder: str,
        *,
        recursive: bool,
        offset: int,
        limit: int,
    ) -> TreePage:
        """One page of the folder's listing, sorted by path, with folders implied by paths."""
        artifact = await self._artifacts.archive_for(access, job_id)
        return await self._listing(
            artifact, folder, recursive=recursive, offset=offset, limit=limit, gitlab=False
        )

    async def gitlab_tree(
        self,
        access: Access,
        job_id: int,
        folder: str,
        *,
        recursive: bool,
        offset: int,
        limit: int,
    ) -> TreePage:
        """One page of the folder as GitLab's `artifacts/tree` lists it (listing.gitlab_folder):
        NoArchiveToList without a live archive, FolderNotFound without the folder."""
        try:
            artifact = await self._artifacts.archive_for(access, job_id)
        except ArtifactNotFound:
            raise NoArchiveToList() from None
        return await self._listing(
            artifact, folder, recursive=recursive, offset=offset, limit=limit, gitlab=True
        )

    async def _listing(
        self,
        artifact: Artifact,
        folder: str,
        *,
        recursive: bool,
        offset: int,
        limit: int,
        gitlab: bool,
    ) -> TreePage:
        """A folder's direct children come from the index's tree section: a folder bucket and
        a page, cached, so no window bound is needed. Recursive listings, and indexes built
        before the tree section existed, walk every bucket, holding at most the window."""
        control = WorkControl()
        cache = self._index.cache

        def work(directory: IndexDirectory, sidecar: RangeSource) -> TreePage:
            if not recursive and directory.tree is not None:
                return indexed_folder(
                    directory,
                    sidecar,
                    folder,
                    gitlab=gitlab,
                    offset=offset,
                    limit=limit,
                    cache=cache,
                )
            check_window(offset, limit)
            if gitlab:
                return gitlab_folder(
                    watched(iter_index_buckets(sidecar, directory), control, every=1),
                    folder,
                    recursive=recursive,
                    offset=offset,
                    limit=limit,
                    max_folders=self._limits.max_folders,
                )
            return list_folder(
                watched(iter_index_entries(sidecar, directory), control),
                folder,
                recursive=recursive,
                offset=offset,
                limit=limit,
                max_folders=self._limits.max_folders,
            )

        if recursive:
            check_window(offset, limit)  # before any read: a recursive page always walks
        return await self._index.with_index(
            artifact, work, executor=self._work.listings, control=control
        )

    async def folder_zip(self, access: Access, job_id: int, folder: str) -> AsyncIterator[bytes]:
        """The folder as a new zip, members copied still compressed (no re-deflate).

        Entries whose names could land outside the folder they are extracted to (`..`, a
        leading `/`, backslashes, drive letters, NUL: paths.safe_to_extract) are left out,
        as GitLab's listing leaves them out; symlinks are not copied at all."""
        artifact = await self._artifacts.archive_for(access, job_id)
        directory, _ = await self._index.directory(artifact)
        archive = self._source(artifact)
        prefix = f"{folder}/" if folder else ""

        def produce() -> Iterator[bytes]:
            # The archive's own central directory, streamed in one read, gives the entries in
            # archive order, so neighbouring members share ranged reads and nothing grows
            # with the folder's size.
            listed = iter_entries(
                archive.stream(directory.cd_offset, directory.cd_size), directory.entry_count
            )
            chosen = (
                entry
                for entry in watched(listed, control)
                if entry.name.startswith(prefix)
                and entry.kind in (EntryKind.FILE, EntryKind.DIRECTORY)
                and safe_to_extract(entry.name)
            )
            first = next(chosen, None)
            if first is None:
                raise ArtifactNotFound()
            readable = _readable(first, chosen)
            yield from write_zip(iter_raw_members(archive, readable, control=control))

        control = WorkControl()
        return from_thread(produce, self._work.folder_zips, on_stop=lambda: self._stop(control))

    def _member_source(self, artifact: Artifact) -> RangeSource:
        """Where a single-file read gets the archive's bytes: straight from the store on the
        read's own pool thread when the store can (one thread hop for the whole read, not a
        round trip through the event loop and the storage pool per request), else through
        the async verbs."""
        direct = self._objects.blocking_range(
            artifact.object_key, artifact.size, etag=artifact.etag
        )
        return direct if direct is not None else self._source(artifact)

    def _source(self, artifact: Artifact) -> StoreSource:
        loop = asyncio.get_running_loop()
        return StoreSource(self._objects, artifact.object_key, artifact.size, artifact.etag, loop)


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
