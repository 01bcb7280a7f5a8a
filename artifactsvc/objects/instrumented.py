"""An ObjectStore decorator that counts requests and their errors by verb (for /metrics), can
tell an observer of each call (verb, key, range, and the bytes actually delivered or sent),
and makes a trace span of each call when tracing is on (artifactsvc/tracing.py)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from artifactsvc.objects.port import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PART_SIZE,
    BlockingRange,
    ChunkSize,
    ObjectInfo,
    ObjectStore,
    Offload,
    PresignMethod,
)

T = TypeVar("T")


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


# Ends a call's trace span, with the error it failed with (tracing.Tracing.storage).
Finish = Callable[[BaseException | None], None]


class _Counted(Generic[T]):
    """The chunks of `inner`, unchanged, added up into `call.bytes` (when observed); an error
    while iterating is counted (`failed`), and the trace span ends with the iteration or
    its close. Closing closes `inner`."""

    def __init__(
        self,
        inner: AsyncIterator[T],
        call: StorageCall | None,
        failed: Callable[[BaseException], None],
        finish: Finish | None,
    ) -> None:
        self._inner = inner
        self._call = call
        self._failed = failed
        self._finish = finish

    def __aiter__(self) -> _Counted[T]:
        return self

    async def __anext__(self) -> T:
        try:
            item = await self._inner.__anext__()
        except StopAsyncIteration:
            self._end(None)
            raise
        except BaseException as error:
            self._failed(error)
            self._end(error)
            raise
        if self._call is not None and isinstance(item, bytes):
            self._call.bytes += len(item)
        return item

    def _end(self, error: BaseException | None) -> None:
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish(error)

    async def aclose(self) -> None:
        self._end(None)
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
        trace: Callable[[str, str], Finish] | None = None,
    ) -> None:
        self.inner = inner
        self._count = count
        self._observe = observe
        self._count_error = count_error
        self._trace = trace

    def _failed(self, verb: str, error: BaseException) -> None:
        """A call that raised, awaited or while its stream or list was iterated: its verb
        and our error's class (a bounded set: the adapters turn vendor errors into
        artifactsvc.errors). A cancellation (a client gone) is no storage error."""
        if self._count_error is not None and isinstance(error, Exception):
            self._count_error(verb, type(error).__name__)

    @contextlib.contextmanager
    def _calling(self, verb: str, key: str) -> Iterator[None]:
        """Around an awaited call: its error counted, its span (if tracing) ended."""
        finish = self._trace(verb, key) if self._trace is not None else None
        try:
            yield
        except BaseException as error:
            self._failed(verb, error)
            if finish is not None:
                finish(error)
            raise
        if finish is not None:
            finish(None)

    def _iterated(
        self, verb: str, key: str, items: AsyncIterator[T], call: StorageCall | None
    ) -> AsyncIterator[T]:
        if call is None and self._count_error is None and self._trace is None:
            return items
        finish = self._trace(verb, key) if self._trace is not None else None
        return _Counted(items, call, lambda error: self._failed(verb, error), finish)

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
            chunks = _Counted(chunks, call, lambda _: None, None)
        with self._calling("put", key):
            return await self.inner.put_stream(key, chunks, part_size=part_size)

    async def head(self, key: str) -> ObjectInfo:
        self._count("head")
        self._report("head", key)
        with self._calling("head", key):
            return await self.inner.head(key)

    async def get_range(
        self, key: str, start: int, length: int, *, etag: str | None = None
    ) -> bytes:
        self._count("get")
        call = self._report("get_range", key, start, length)
        with self._calling("get", key):
            data = await self.inner.get_range(key, start, length, etag=etag)
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
        chunk_size: ChunkSize = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        self._count("get")
        call = self._report("stream", key, start, length)
        chunks = self.inner.stream(key, start, length, etag=etag, chunk_size=chunk_size)
        return self._iterated("get", key, chunks, call)

    def blocking_range(
        self, key: str, size: int, *, etag: str | None = None
    ) -> BlockingRange | None:
        inner = self.inner.blocking_range(key, size, etag=etag)
        return None if inner is None else _CountedRange(self, key, inner)

    async def delete(self, key: str) -> None:
        self._count("delete")
        self._report("delete", key)
        with self._calling("delete", key):
            await self.inner.delete(key)

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
        return self._iterated("list", prefix, self.inner.list(prefix), None)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        return await self.inner.abort_stale_uploads(older_than)


class _CountedRange:
    """A `BlockingRange` whose reads are counted, reported and traced as `get_range` and
    `stream` are. Made on the event loop, read on a worker thread: each read's span starts
    in the context the range was made in, so it is a child of the request's span."""

    def __init__(self, store: InstrumentedObjectStore, key: str, inner: BlockingRange) -> None:
        self._store = store
        self._key = key
        self._inner = inner
        self._context = contextvars.copy_context()

    @property
    def size(self) -> int:
        return self._inner.size

    @contextlib.contextmanager
    def _calling(self) -> Iterator[None]:
        store = self._store
        trace = store._trace
        finish = None if trace is None else self._context.copy().run(trace, "get", self._key)
        try:
            yield
        except BaseException as error:
            store._failed("get", error)
            if finish is not None:
                finish(error)
            raise
        if finish is not None:
            finish(None)

    def read(self, start: int, length: int) -> bytes:
        self._store._count("get")
        call = self._store._report("get_range", self._key, start, length)
        with self._calling():
            data = self._inner.read(start, length)
        if call is not None:
            call.bytes = len(data)
        return data

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        self._store._count("get")
        call = self._store._report("stream", self._key, start, length)
        with self._calling():
            for chunk in self._inner.stream(start, length):
                if call is not None:
                    call.bytes += len(chunk)
                yield chunk
