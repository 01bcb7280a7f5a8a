"""Glue between the async ObjectStore and the synchronous `ziprange` package.

`ziprange` reads through a two-verb `RangeSource`; `StoreSource` implements it over an
object pinned to one ETag by calling back into the event loop from a worker thread. All
ziprange work runs on a thread pool of our own (never asyncio's default executor: its six
threads were seen to deadlock stream-unzip's async API when the source used them too).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from artifactsvc.objects import ObjectInfo, ObjectStore
from artifactsvc.ziprange.build import build_index
from artifactsvc.ziprange.index import IndexDirectory

T = TypeVar("T")
_DONE = object()


class StoreSource:
    """A RangeSource over one stored object, pinned to its ETag when given.

    Call `read`/`stream` only from a worker thread: they wait on the event loop.
    """

    def __init__(
        self,
        objects: ObjectStore,
        key: str,
        size: int,
        etag: str | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._objects = objects
        self._key = key
        self._size = size
        self._etag = etag
        self._loop = loop

    @classmethod
    def of(
        cls, objects: ObjectStore, info: ObjectInfo, loop: asyncio.AbstractEventLoop
    ) -> StoreSource:
        return cls(objects, info.key, info.size, info.etag, loop)

    @property
    def size(self) -> int:
        return self._size

    def read(self, start: int, length: int) -> bytes:
        coro = self._objects.get_range(self._key, start, length, etag=self._etag)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        chunks = self._objects.stream(self._key, start, length, etag=self._etag)
        yield from sync_iter(chunks, self._loop)


def sync_iter(chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> Iterator[bytes]:
    """Consume an async iterator from a worker thread, one chunk at a time."""
    try:
        while True:
            future = asyncio.run_coroutine_threadsafe(_next(chunks), loop)
            item = future.result()
            if item is _DONE:
                return
            assert isinstance(item, bytes)
            yield item
    finally:
        _close(chunks, loop)


_closing: set[asyncio.Task[None]] = set()


def _close(chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
    """Close `chunks` on its loop. A reader that raised mid-stream leaves its generator to the
    garbage collector, which may finalise it on the loop's own thread: waiting there for the
    loop would block it forever, so the close is only scheduled."""
    closer = getattr(chunks, "aclose", None)
    if closer is None or loop.is_closed():
        return
    try:
        on_loop = asyncio.get_running_loop() is loop
    except RuntimeError:
        on_loop = False
    if on_loop:
        task = loop.create_task(closer())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    else:
        asyncio.run_coroutine_threadsafe(closer(), loop).result()


async def _next(chunks: AsyncIterator[bytes]) -> object:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return _DONE


async def async_iter(
    produce: Callable[[], Iterator[bytes]], executor: ThreadPoolExecutor, *, depth: int = 4
) -> AsyncIterator[bytes]:
    """Run a blocking generator on `executor`, handing its chunks to the event loop.

    At most `depth` chunks wait unread (a semaphore), so memory stays flat; closing the async
    iterator early stops the producer at its next chunk and closes the generator.
    """
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[object] = asyncio.Queue()
    slots = threading.Semaphore(depth)
    stop = threading.Event()

    def run() -> None:
        generator = produce()
        try:
            for chunk in generator:
                while not slots.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                loop.call_soon_threadsafe(items.put_nowait, chunk)
            loop.call_soon_threadsafe(items.put_nowait, _DONE)
        except BaseException as error:  # handed to the consumer, re-raised there
            loop.call_soon_threadsafe(items.put_nowait, error)
        finally:
            close = getattr(generator, "close", None)
            if close is not None:
                close()

    task = loop.run_in_executor(executor, run)
    try:
        while True:
            item = await items.get()
            slots.release()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        stop.set()
        await task


@dataclass(frozen=True)
class BuiltIndex:
    key: str
    directory: IndexDirectory
    size: int


async def index_archive(
    objects: ObjectStore, info: ObjectInfo, executor: ThreadPoolExecutor, index_key: str
) -> BuiltIndex:
    """Parse the archive's central directory once and store its index as a sidecar object.

    Raises InvalidArchive when the object is not a zip, CorruptArchive when it is damaged.
    """
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryFile() as spool:
        source = StoreSource.of(objects, info, loop)
        directory = await loop.run_in_executor(
            executor, lambda: build_index(source, spool, etag=info.etag)
        )
        size = spool.seek(0, 2)
        spool.seek(0)

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                block = await loop.run_in_executor(executor, spool.read, 1 << 20)
                if not block:
                    return
                yield block

        await objects.put_stream(index_key, chunks())
        return BuiltIndex(index_key, directory, size)
