"""Bytes between the event loop and worker threads, bounded both ways.

- `read_ahead` and `from_thread`: one bounded pump (`_Pump`) fed by a task (an async
  iterator: storage reads) or by a pool thread (a blocking generator: the synchronous
  `ziprange` code). Up to `depth` chunks wait read ahead of the consumer, so producing
  (storage reads, inflating) and consuming (socket writes) overlap instead of taking turns;
  memory is bounded by `depth` chunks. Closing the consumer early stops the producer at its
  next chunk and closes what it reads.
- `StoreSource` and `sync_iter`: the other direction, a `ziprange.RangeSource` over the async
  ObjectStore for code running on a worker thread.

All ziprange work runs on a thread pool of our own, never asyncio's default executor: its
few threads were seen to deadlock stream-unzip's async API when the source used them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from concurrent.futures import Executor

from artifactsvc.objects import ObjectInfo, ObjectStore

READ_AHEAD = 4
_DONE = object()


async def read_ahead(
    chunks: AsyncIterator[bytes], depth: int = READ_AHEAD
) -> AsyncGenerator[bytes, None]:
    """`chunks`, with up to `depth` of them read ahead by a task (benchmarked: about +50%
    download throughput). An error of the producer is raised where its chunk would have been."""
    pump = _Pump(depth)

    async def produce() -> None:
        try:
            async for chunk in chunks:
                await pump.queue.put(chunk)
            await pump.queue.put(_DONE)
        except Exception as error:  # handed to the consumer, which re-raises it
            await pump.queue.put(error)

    task = asyncio.create_task(produce())

    try:
        while (chunk := await pump.get()) is not None:
            yield chunk
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await aclose(chunks)


async def from_thread(
    produce: Callable[[], Iterator[bytes]], executor: Executor, *, depth: int = READ_AHEAD
) -> AsyncGenerator[bytes, None]:
    """The chunks of `produce()`, generated on `executor` with up to `depth` read ahead.

    The generator runs on one pool thread from start to end (one hop, not one per chunk);
    closing this iterator early stops it at its next chunk and closes it there."""
    loop = asyncio.get_running_loop()
    pump = _Pump(depth, threaded=True)

    def run() -> None:
        generator: Iterator[bytes] | None = None
        try:
            # Even making the iterator may read storage (and fail), which waits on the loop:
            # never on the loop, and its error reaches the consumer like any other.
            generator = produce()
            for chunk in generator:
                if pump.stopped or not pump.put_from_thread(loop, chunk):
                    return
            pump.put_from_thread(loop, _DONE)
        except BaseException as error:  # handed to the consumer, re-raised there
            pump.put_from_thread(loop, error)
        finally:
            closer = getattr(generator, "close", None)
            if closer is not None:
                closer()

    thread = loop.run_in_executor(executor, run)

    try:
        while (chunk := await pump.get()) is not None:
            yield chunk
    finally:
        pump.stopped = True  # seen by the producer at its next chunk, or while it waits
        await thread


class _Pump:
    """The bounded queue between one producer (a task, or a thread) and its consumer, and how
    the consumer ends. At most `depth` chunks wait unread, whichever the producer."""

    def __init__(self, depth: int, *, threaded: bool = False) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)
        self.stopped = False
        # A thread cannot await the queue: it takes a slot first, and never waits on the loop.
        self._slots = threading.Semaphore(depth) if threaded else None

    def put_from_thread(self, loop: asyncio.AbstractEventLoop, item: object) -> bool:
        """Waits (on this thread) while `depth` chunks are unread; False once stopped."""
        assert self._slots is not None
        while not self._slots.acquire(timeout=0.1):
            if self.stopped:
                return False
        if self.stopped:
            return False
        loop.call_soon_threadsafe(self.queue.put_nowait, item)
        return True

    async def get(self) -> bytes | None:
        """The next chunk, None at the end; the producer's error is raised here."""
        item = await self.queue.get()
        if self._slots is not None:
            self._slots.release()
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, bytes)
        return item


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
