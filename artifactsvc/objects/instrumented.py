"""An ObjectStore decorator that counts requests by verb (for /metrics), and can tell an
observer of each call: verb, key, range, and the bytes actually delivered or sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from artifactsvc.objects.port import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PART_SIZE,
    ObjectInfo,
    ObjectStore,
    Offload,
    PresignMethod,
)


@dataclass(slots=True)
class StorageCall:
    """One call, reported to the observer when it is made; `bytes` grows as a read delivers
    (or a put sends) them, so it is final once the call has returned or its stream ended."""

    verb: str  # the port's method: put_stream, head, get_range, stream, delete, list
    key: str  # the prefix, for list
    start: int = 0
    length: int | None = None
    bytes: int = 0

    @property
    def end(self) -> int:
        return self.start + self.bytes


class _Counted:
    """The chunks of `inner`, unchanged, added up into `call.bytes`; closing closes `inner`."""

    def __init__(self, inner: AsyncIterator[bytes], call: StorageCall) -> None:
        self._inner = inner
        self._call = call

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._inner.__anext__()
        self._call.bytes += len(chunk)
        return chunk

    async def aclose(self) -> None:
        closer = getattr(self._inner, "aclose", None)
        if closer is not None:
            await closer()


class InstrumentedObjectStore:
    def __init__(
        self,
        inner: ObjectStore,
        count: Callable[[str], None],
        *,
        observe: Callable[[StorageCall], None] | None = None,
        count_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.inner = inner
        self._count = count
        self._observe = observe
        self._count_error = count_error

    def _failed(self, verb: str, error: BaseException) -> None:
        """An awaited call that raised: its verb and our error's class (a bounded set: the
        adapters turn vendor errors into artifactsvc.errors). Streams and lists fail while
        iterated, outside this decorator's sight, and are not counted here."""
        if self._count_error is not None and isinstance(error, Exception):
            self._count_error(verb, type(error).__name__)

    def _report(
        self, verb: str, key: str, start: int = 0, length: int | None = None
    ) -> StorageCall | None:
        if self._observe is None:
            return None
        call = StorageCall(verb, key, start, length)
        self._observe(call)
        return call

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, part_size: int = DEFAULT_PART_SIZE
    ) -> ObjectInfo:
        self._count("put")
        if (call := self._report("put_stream", key)) is not None:
            chunks = _Counted(chunks, call)
        try:
            return await self.inner.put_stream(key, chunks, part_size=part_size)
        except BaseException as error:
            self._failed("put", error)
            raise

    async def head(self, key: str) -> ObjectInfo:
        self._count("head")
        self._report("head", key)
        try:
            return await self.inner.head(key)
        except BaseException as error:
            self._failed("head", error)
            raise

    async def get_range(
        self, key: str, start: int, length: int, *, etag: str | None = None
    ) -> bytes:
        self._count("get")
        call = self._report("get_range", key, start, length)
        try:
            data = await self.inner.get_range(key, start, length, etag=etag)
        except BaseException as error:
            self._failed("get", error)
            raise
        if call is not None:
            call.bytes = len(data)
        return data

    def stream(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        etag: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        self._count("get")
        call = self._report("stream", key, start, length)
        chunks = self.inner.stream(key, start, length, etag=etag, chunk_size=chunk_size)
        return chunks if call is None else _Counted(chunks, call)

    async def delete(self, key: str) -> None:
        self._count("delete")
        self._report("delete", key)
        try:
            await self.inner.delete(key)
        except BaseException as error:
            self._failed("delete", error)
            raise

    @property
    def can_presign(self) -> bool:
        return self.inner.can_presign

    async def presign(
        self,
        key: str,
        *,
        disposition: str,
        method: PresignMethod = "GET",
        expires_in: int = 300,
    ) -> str:
        return await self.inner.presign(
            key, disposition=disposition, method=method, expires_in=expires_in
        )

    @property
    def can_offload_ranges(self) -> bool:
        return self.inner.can_offload_ranges

    async def offload(self, key: str, *, disposition: str, expires_in: int = 300) -> Offload:
        return await self.inner.offload(key, disposition=disposition, expires_in=expires_in)

    async def ping(self) -> None:
        await self.inner.ping()

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        self._count("list")
        self._report("list", prefix)
        return self.inner.list(prefix)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        return await self.inner.abort_stale_uploads(older_than)
