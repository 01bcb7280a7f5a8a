"""Bytes between the event loop and worker threads, bounded both ways.

- `read_ahead`: the one bounded pump. It keeps up to `depth` chunks read ahead of the
  consumer, so producing (storage reads, inflating) and consuming (socket writes) overlap
  instead of taking turns; memory is bounded by `depth` chunks.
- `from_thread`: a blocking generator (the synchronous `ziprange` code) as an async iterator,
  one `next()` at a time on a pool of our own, behind `read_ahead`. Closing it early stops
  the generator at its next chunk and closes it on the pool.
- `StoreSource` and `sync_iter`: the other direction, a `ziprange.RangeSource` over the async
  ObjectStore for code running on a worker thread.

All ziprange work runs on a thread pool of our own, never asyncio's default executor: its
few threads were seen to deadlock stream-unzip's async API when the source used them too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from functools import partial

from artifactsvc.blocking import call, finish
from artifactsvc.objects import ObjectInfo, ObjectStore

READ_AHEAD = 4
_DONE = object()


async def read_ahead(chunks: AsyncIterator[bytes], depth: int = READ_AHEAD) -> AsyncIterator[bytes]:
    """`chunks`, with up to `depth` of them read ahead (benchmarked: about +50% download
    throughput). An error of the producer is raised where its chunk would have been."""
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)

    async def pump() -> None:
        try:
            async for chunk in chunks:
                await queue.put(chunk)
            await queue.put(_DONE)
        except Exception as error:  # handed to the consumer, which re-raises it
            await queue.put(error)

    task = asyncio.create_task(pump())
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await aclose(chunks)


def from_thread(
    produce: Callable[[], Iterator[bytes]], executor: Executor, *, depth: int = READ_AHEAD
) -> AsyncIterator[bytes]:
    """The chunks of `produce()`, generated on `executor`, with up to `depth` read ahead."""
    return read_ahead(_stepped(produce, executor), depth)


async def _stepped(
    produce: Callable[[], Iterator[bytes]], executor: Executor
) -> AsyncIterator[bytes]:
    # Even making the iterator may read storage, which waits on the loop: never on the loop.
    generator = await call(executor, produce)
    try:
        while (chunk := await call(executor, partial(next, generator, _DONE))) is not _DONE:
            assert isinstance(chunk, bytes)
            yield chunk
    finally:
        closer = getattr(generator, "close", None)
        if closer is not None:
            # A generator's cleanup may block (it closes storage reads): on the pool too.
            await finish(executor, closer)


async def aclose(chunks: AsyncIterator[bytes]) -> None:
    closer = getattr(chunks, "aclose", None)
    if closer is not None:
        await closer()


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
        _close_from_thread(chunks, loop)


_closing: set[asyncio.Task[None]] = set()


def _close_from_thread(chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
    """Close the async iterator on its loop. A generator abandoned mid-way goes to the
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
