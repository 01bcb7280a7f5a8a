"""The object-storage port: what the rest of the service may ask of a blob store.

Keys are '/'-separated relative names (`projects/1/jobs/7/archive.zip`). Every adapter
translates its vendor's failures into `artifactsvc.errors`:

    ObjectNotFound        no object under that key
    ObjectChanged         a read pinned to an ETag found another version
    StorageUnavailable    refused connections, timeouts, 5xx: try again later
    StorageError          anything else the store refused
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

DEFAULT_PART_SIZE = 8 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 256 * 1024
# A stream's read size: fixed, or asked for before each read.
ChunkSize = int | Callable[[], int]

# What a presigned URL is good for: a GET fetches the object, a HEAD describes it. S3 signs
# the method, so a URL signed for one is refused (403) for the other.
PresignMethod = Literal["GET", "HEAD"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a store knows about one object; `etag` is unquoted and changes with the bytes."""

    key: str
    size: int
    etag: str
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class Offload:
    """Where a reverse proxy in front of the service can fetch an object's bytes itself
    (DOWNLOAD_MODE=accel): exactly one of `path`, a file's path relative to the store's
    root directory, and `url`, a presigned URL for a GET."""

    path: str | None = None
    url: str | None = None


class BlockingRange(Protocol):
    """Ranged reads of one object that block the calling thread (`ziprange.RangeSource`'s
    shape): each `read` or `stream` is one request, clamped at the object's end, pinned to
    the ETag it was opened with. Only for code already running on a worker thread."""

    @property
    def size(self) -> int: ...

    def read(self, start: int, length: int) -> bytes: ...

    def stream(self, start: int, length: int) -> Iterator[bytes]: ...


class ObjectStore(Protocol):
    """A blob store. Every call is async; blocking work runs on the store's executor.

    `put_stream` either stores the whole object or nothing: when `chunks` raises, or the task
    is cancelled, the partial upload is aborted and the original exception propagates.
    `stream` raises `StorageError` on a failure mid-body and never ends early silently.
    """

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, part_size: int = DEFAULT_PART_SIZE
    ) -> ObjectInfo:
        """Store the concatenated chunks under `key`, buffering at most about one part."""
        ...

    async def head(self, key: str) -> ObjectInfo:
        """Describe `key`; `ObjectNotFound` when it does not exist."""
        ...

    async def get_range(
        self, key: str, start: int, length: int, *, etag: str | None = None
    ) -> bytes:
        """Read up to `length` bytes at `start` (clamped at the end; `b""` past it).

        With `etag`, `ObjectChanged` when the object is no longer that version.
        """
        ...

    def stream(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        etag: str | None = None,
        chunk_size: ChunkSize = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        """Yield the bytes of `key` from `start` (all, or `length`) with one read request.

        `chunk_size` is the size of each read, or a function asked before each read (a
        shared budget shrinks reads as more streams run: streams.ReadBudget).

        Closing the iterator early (`aclose`) releases the underlying connection or file.
        """
        ...

    def blocking_range(
        self, key: str, size: int, *, etag: str | None = None
    ) -> BlockingRange | None:
        """Reads of `key` (`size` bytes) made on the caller's own worker thread, or None when
        the store has none (the caller bridges to the async verbs instead).

        A worker thread that reads through the async verbs waits on the event loop, which
        waits on the store's executor: a round trip through two threads per read, the bulk
        of a small single-file read's latency. Here the caller's thread hands each request
        to the store's executor and waits for it itself, within the storage deadline: one
        hop, with no event loop in between."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        ...

    @property
    def can_presign(self) -> bool:
        """Whether `presign` can hand out URLs that clients fetch from the store directly."""
        ...

    async def presign(
        self,
        key: str,
        *,
        disposition: str,
        method: PresignMethod = "GET",
        expires_in: int = 300,
    ) -> str:
        """A time-limited URL for `method` whose response carries `disposition` as its
        Content-Disposition. Only when `can_presign`; otherwise StorageError."""
        ...

    @property
    def can_offload_ranges(self) -> bool:
        """Whether the proxy can fetch any byte range of an `offload` target (a URL, with a
        `Range` header of the service's choosing), not only the ranges a client asks of the
        whole object: what a stored member of an archive needs."""
        ...

    async def offload(self, key: str, *, disposition: str, expires_in: int = 300) -> Offload:
        """How a proxy in front reaches the bytes of `key` without this service: a file
        under the root (local files) or a presigned GET carrying `disposition` (S3). Every
        store offers one; nothing is checked about the object."""
        ...

    async def ping(self) -> None:
        """Cheap reachability check; `StorageUnavailable` when the store cannot serve."""
        ...

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, in no particular order."""
        ...

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        """Abort incomplete uploads started (or last written) before `older_than`.

        `older_than` must be timezone-aware. Returns how many were aborted.
        """
        ...


def read_size(chunk_size: ChunkSize) -> Callable[[], int]:
    """`chunk_size` as a function; ValueError for a size that is not positive."""
    if isinstance(chunk_size, int):
        if chunk_size <= 0:
            raise ValueError(f"chunk size must be positive, not {chunk_size}")
        fixed = chunk_size
        return lambda: fixed
    return chunk_size


def validate_key(key: str) -> list[str]:
    """Return the segments of `key`, or raise ValueError for a key that is not a plain name.

    Both adapters apply the same rules so that a key accepted in development on local files
    is accepted on S3 and vice versa.
    """
    if not key or "\x00" in key:
        raise ValueError(f"invalid object key {key!r}")
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ValueError(f"invalid object key {key!r}")
    return segments
