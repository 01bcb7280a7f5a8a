"""Objects as files under one directory: the embedded default.

A write goes to a temporary file next to its destination, is fsynced, then renamed over the
key with `os.replace`, so readers see the old object or the new one and never a mix. A file
is never modified in place, so a reader that opened a version keeps reading that version:
checking the ETag once, on the open descriptor, is enough to pin a read.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from contextlib import aclosing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from artifactsvc.blocking import call, finish
from artifactsvc.errors import ObjectChanged, ObjectNotFound, StorageError, StorageUnavailable
from artifactsvc.objects._parts import regroup
from artifactsvc.objects.port import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PART_SIZE,
    ChunkSize,
    ObjectInfo,
    Offload,
    PresignMethod,
    read_size,
    validate_key,
)

T = TypeVar("T")
log = logging.getLogger(__name__)

# Keys may not use this prefix in any segment, so a temporary file is never mistaken for an
# object by `list`, nor an object for a stale upload by `abort_stale_uploads`.
TEMP_PREFIX = ".upload-"


class FilesystemObjectStore:
    """`ObjectStore` over a local directory; blocking file I/O runs on `executor`."""

    def __init__(self, root: str | os.PathLike[str], *, executor: Executor) -> None:
        self.root = os.path.abspath(root)
        self._executor = executor

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, part_size: int = DEFAULT_PART_SIZE
    ) -> ObjectInfo:
        upload = _Upload(self._path(key))
        try:
            await self._run(key, upload.open, missing_is_not_found=False)
            async with aclosing(regroup(chunks, part_size)) as parts:
                async for part, _ in parts:
                    await self._run(key, partial(upload.write, part), missing_is_not_found=False)
            written = await self._run(key, upload.commit, missing_is_not_found=False)
        except BaseException:
            try:
                await finish(self._executor, upload.discard)
            except Exception:
                log.warning("could not remove %s; gc will", upload.path, exc_info=True)
            raise
        return _info(key, written)

    async def head(self, key: str) -> ObjectInfo:
        return _info(key, await self._run(key, partial(_stat_file, self._path(key))))

    async def get_range(
        self, key: str, start: int, length: int, *, etag: str | None = None
    ) -> bytes:
        _check_range(start, length)
        return await self._run(key, partial(_read_range, self._path(key), start, length, etag))

    async def stream(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        etag: str | None = None,
        chunk_size: ChunkSize = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        chunk = read_size(chunk_size)
        _check_range(start, length)
        reader = _Reader(self._path(key))
        if length == 0:
            return
        try:
            await self._run(key, partial(reader.open, etag))
            offset, end = start, None if length is None else start + length
            while end is None or offset < end:
                size = chunk() if end is None else min(chunk(), end - offset)
                data = await self._run(key, partial(reader.pread, size, offset))
                if not data:
                    break
                offset += len(data)
                yield data
                del data  # sent: the next read must not keep it alive (streams.ReadBudget)
        finally:
            # Closing a descriptor does not block, and an async generator finalised without
            # a running loop cannot await.
            reader.close()

    def blocking_range(self, key: str, size: int, *, etag: str | None = None) -> None:
        return None  # reads go through the executor, as every other call here

    async def delete(self, key: str) -> None:
        await self._run(key, partial(_unlink_if_present, self._path(key)))

    @property
    def can_presign(self) -> bool:
        return False  # nothing but this service can reach the files

    async def presign(
        self,
        key: str,
        *,
        disposition: str,
        method: PresignMethod = "GET",
        expires_in: int = 300,
    ) -> str:
        raise StorageError(f"{key}: local files cannot be fetched through presigned URLs")

    @property
    def can_offload_ranges(self) -> bool:
        return False  # nginx ranges a file only as the client's Range asks of the whole file

    async def offload(self, key: str, *, disposition: str, expires_in: int = 300) -> Offload:
        # nginx opens the file itself (sendfile), so the key becomes a path under the root.
        self._path(key)  # the same refusals as every other verb
        return Offload(path=key)

    async def ping(self) -> None:
        try:
            await call(self._executor, partial(_check_root, self.root))
        except OSError as exc:
            raise StorageUnavailable(f"{self.root}: {exc}") from exc

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        directory = prefix.rpartition("/")[0]
        pending = [os.path.join(self.root, *validate_key(directory)) if directory else self.root]
        while pending:
            scanned = await self._run(prefix, partial(_scan, self.root, pending.pop(), prefix))
            for key, found in scanned.files:
                yield _info(key, found)
            pending.extend(scanned.directories)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        if older_than.tzinfo is None:
            raise ValueError("older_than must be timezone-aware")
        cutoff_ns = int(older_than.timestamp() * 1_000_000_000)
        return await self._run("", partial(_remove_stale, self.root, cutoff_ns))

    def _path(self, key: str) -> str:
        segments = validate_key(key)
        if any(segment.startswith(TEMP_PREFIX) for segment in segments):
            raise ValueError(f"invalid object key {key!r}: {TEMP_PREFIX!r} is reserved")
        return os.path.join(self.root, *segments)

    async def _run(self, key: str, fn: Callable[[], T], *, missing_is_not_found: bool = True) -> T:
        with _translated(key, missing_is_not_found):
            return await call(self._executor, fn)


@contextmanager
def _translated(key: str, missing_is_not_found: bool) -> Iterator[None]:
    try:
        yield
    except (FileNotFoundError, NotADirectoryError) as exc:
        if missing_is_not_found:
            raise ObjectNotFound(key) from exc
        raise StorageError(f"{key}: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"{key}: {exc}") from exc


class _Upload:
    """A temporary file on its way to becoming an object; methods run on the executor."""

    def __init__(self, final: str) -> None:
        self.final = final
        self.path = os.path.join(os.path.dirname(final), TEMP_PREFIX + secrets.token_hex(8))
        self.fd: int | None = None

    def open(self) -> None:
        os.makedirs(os.path.dirname(self.final), exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self.fd = os.open(self.path, flags, 0o666)

    def write(self, data: bytearray) -> None:
        assert self.fd is not None
        done = os.write(self.fd, data)
        while done < len(data):
            done += os.write(self.fd, data[done:])

    def commit(self) -> os.stat_result:
        assert self.fd is not None
        os.fsync(self.fd)
        # fstat before the rename: afterwards the key may already name a newer upload.
        written = os.fstat(self.fd)
        fd, self.fd = self.fd, None
        os.close(fd)
        os.replace(self.path, self.final)
        _fsync_directory(os.path.dirname(self.final))
        return written

    def discard(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)
        with suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(self.path)


class _Reader:
    """An open version of one object; methods other than `close` run on the executor."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def open(self, etag: str | None) -> None:
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        _check_version(self.path, os.fstat(self.fd), etag)

    def pread(self, size: int, offset: int) -> bytes:
        assert self.fd is not None
        return os.pread(self.fd, size, offset)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


@dataclass
class _Scan:
    files: list[tuple[str, os.stat_result]] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)


def _scan(root: str, directory: str, prefix: str) -> _Scan:
    scanned = _Scan()
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return scanned
    for entry in entries:
        key = os.path.relpath(entry.path, root).replace(os.sep, "/")
        if entry.is_dir(follow_symlinks=False):
            if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                scanned.directories.append(entry.path)
        elif (
            entry.is_file(follow_symlinks=False)
            and not entry.name.startswith(TEMP_PREFIX)
            and key.startswith(prefix)
        ):
            with suppress(FileNotFoundError):
                scanned.files.append((key, entry.stat(follow_symlinks=False)))
    return scanned


def _remove_stale(root: str, cutoff_ns: int) -> int:
    removed = 0
    for directory, _, names in os.walk(root):
        for name in names:
            if not name.startswith(TEMP_PREFIX):
                continue
            path = os.path.join(directory, name)
            with suppress(FileNotFoundError):
                if os.stat(path, follow_symlinks=False).st_mtime_ns < cutoff_ns:
                    os.unlink(path)
                    removed += 1
    return removed


def _stat_file(path: str) -> os.stat_result:
    found = os.stat(path)
    _check_version(path, found, None)
    return found


def _check_version(path: str, found: os.stat_result, etag: str | None) -> None:
    if not stat.S_ISREG(found.st_mode):
        raise FileNotFoundError(path)
    if etag is not None and _etag(found) != etag:
        raise ObjectChanged(f"{path}: ETag is {_etag(found)}, not {etag}")


def _read_range(path: str, start: int, length: int, etag: str | None) -> bytes:
    reader = _Reader(path)
    try:
        reader.open(etag)
        pieces: list[bytes] = []
        offset, end = start, start + length
        while offset < end and (piece := reader.pread(end - offset, offset)):
            pieces.append(piece)
            offset += len(piece)
        return b"".join(pieces)
    finally:
        reader.close()


def _unlink_if_present(path: str) -> None:
    with suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
        os.unlink(path)


def _check_root(root: str) -> None:
    os.makedirs(root, exist_ok=True)
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(f"{root} is not writable")


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; the file's bytes were fsynced before it.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_range(start: int, length: int | None) -> None:
    if start < 0 or (length is not None and length < 0):
        raise ValueError(f"invalid range: start={start} length={length}")


def _etag(found: os.stat_result) -> str:
    return f"{found.st_size:x}-{found.st_mtime_ns:x}-{found.st_ino:x}"


def _info(key: str, found: os.stat_result) -> ObjectInfo:
    modified = datetime.fromtimestamp(found.st_mtime_ns / 1_000_000_000, UTC)
    return ObjectInfo(key=key, size=found.st_size, etag=_etag(found), last_modified=modified)
