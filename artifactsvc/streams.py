"""Bytes between the event loop and worker threads, bounded both ways.

- `read_ahead` and `from_thread`: a bounded queue fed by a task (an async iterator: storage
  reads) or by a pool thread (a blocking generator: the synchronous `ziprange` code). Up to
  `depth` chunks wait read ahead of the consumer, so producing (storage reads, inflating) and
  consuming (socket writes) overlap instead of taking turns; memory is bounded by `depth`
  chunks. A thread producing for a slow consumer goes back to the pool once its queue has
  been full for `LINGER` (a slow client must not hold a zip thread), and the generator goes
  on later on whichever thread. Closing the consumer early stops the producer at its next
  chunk and closes what it reads.
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
from concurrent.futures import Executor, Future

from artifactsvc.objects import ObjectInfo, ObjectStore

READ_AHEAD = 4
MIN_READ = 128 * 1024
# How long a producing thread waits for a slow consumer before it goes back to the pool.
LINGER = 0.05
_DONE = object()


class ReadBudget:
    """The bytes every download stream of a process may hold together (DOWNLOAD_BUFFER_BUDGET).

    Alone, or with one other, a stream reads `depth` chunks ahead (its storage reads overlap
    its socket writes) and holds `depth + 2` chunks: the queue, the read in flight and the
    chunk being sent. With more running, the others' reads fill that gap, so a stream reads
    nothing ahead and holds two: the read in flight, and the chunk before it, whose tail the
    transport may still be sending (every layer lets a chunk go once it is sent; one held
    through the next read was a third). Each read gets `total / (held * streams)`, at most
    `largest` and never under `smallest`, so 100 downloads hold about `total`. Backpressure:
    a stream whose client is slow stops reading. Used on the event loop only (a read's size
    is chosen before it is handed to a thread), so it needs no lock.

    Counting one chunk a stream (no tail) read chunks twice as large, cost 25% less CPU a
    byte and grew the server by 93-107 MiB at 100 streams (bench: --only transfer); two
    grew it by 43-48 MiB.
    """

    def __init__(
        self,
        total: int,
        *,
        depth: int = READ_AHEAD,
        largest: int = 1 << 20,
        smallest: int = MIN_READ,
    ) -> None:
        if not 0 < smallest <= largest:
            raise ValueError(f"read sizes {smallest}..{largest} are not a range")
        self.total = total
        self.depth = depth
        self._largest = largest
        self._smallest = smallest
        self.streams = 0

    def chunk(self) -> int:
        """The size of a stream's next read, for the streams running now."""
        held = self._depth() + 2  # read ahead, in flight, being sent
        share = self.total // (held * max(1, self.streams))
        return max(self._smallest, min(self._largest, share))

    def _depth(self) -> int:
        # Measured (100 concurrent downloads, py-spy): a read-ahead task costs the loop a
        # queue hop per chunk and its queue halves the chunk size a budget allows.
        return self.depth if self.streams <= 2 else 0

    async def stream(
        self, opened: Callable[[Callable[[], int]], AsyncIterator[bytes]]
    ) -> AsyncGenerator[bytes, None]:
        """`opened(self.chunk)`'s chunks read ahead, counted among the running streams from
        the first read until the consumer is done (or goes away)."""
        self.streams += 1
        try:
            depth = self._depth()
            source = opened(self.chunk)
            chunks = read_ahead(source, depth) if depth else source
            try:
                async for chunk in chunks:
                    yield chunk
                    del chunk  # sent: not held through the next read
            finally:
                await aclose(chunks)
        finally:
            self.streams -= 1


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
                del chunk  # the queue holds it now, not this task through the next read
            await pump.queue.put(_DONE)
        except Exception as error:  # handed to the consumer, which re-raises it
            await pump.queue.put(error)

    task = asyncio.create_task(produce())

    try:
        while True:
            chunk = await pump.get()
            if chunk is None:
                break
            yield chunk
            del chunk  # sent: not held while waiting for the next
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await aclose(chunks)


async def from_thread(
    produce: Callable[[], Iterator[bytes]],
    executor: Executor,
    *,
    depth: int = READ_AHEAD,
    on_stop: Callable[[], None] | None = None,
    linger: float = LINGER,
) -> AsyncGenerator[bytes, None]:
    """The chunks of `produce()`, generated on `executor` with up to `depth` read ahead.

    The generator runs on a pool thread while it has room to read ahead. When `depth` chunks
    wait unread for `linger` seconds (a slow client), the thread goes back to the pool and
    the generator is resumed, on some pool thread, once the consumer takes a chunk: a slow
    reader holds memory for `depth` chunks, never a thread. A fast consumer keeps it on one
    thread from start to end (one hop, not one per chunk). Closing this iterator early
    stops the generator at its next chunk, closes it on the pool, and calls `on_stop` (which
    can reach into work that yields nothing for a long time: an inflate loop skipping to a
    Range). A task still waiting for a thread is withdrawn."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)
    slots = threading.Semaphore(depth)
    lock = threading.Lock()
    state = _Producer()

    def put(item: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def run() -> None:
        # One turn on a pool thread: produce while a slot frees within `linger`, else park.
        try:
            while not state.stopped:
                if not slots.acquire(timeout=linger):
                    with lock:
                        if not slots.acquire(blocking=False):
                            state.parked = True  # the consumer resumes us when it takes one
                            return
                if state.stopped:
                    slots.release()
                    return
                try:
                    if state.generator is None:
                        # Even making the iterator may read storage (and fail), which waits
                        # on the loop: never on the loop, and its error reaches the consumer.
                        state.generator = produce()
                    chunk = next(state.generator)
                except StopIteration:
                    state.finished = True
                    put(_DONE)
                    return
                except BaseException as error:  # handed to the consumer, re-raised there
                    state.finished = True
                    put(error)
                    return
                put(chunk)
        except BaseException as error:  # an executor shutting down, an interpreter exiting
            state.finished = True
            put(error)

    state.turn = executor.submit(run)
    ended = False
    try:
        while True:
            item = await queue.get()
            with lock:
                slots.release()
                wake = state.parked and not state.finished
                state.parked = False
            if wake:
                state.turn = executor.submit(run)
            if item is _DONE:
                ended = True
                break
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item
            del item  # sent: not held while waiting for the next
    finally:
        state.stopped = True  # seen by the producer at its next chunk, or while it waits
        if not ended and on_stop is not None:
            on_stop()
        turn = state.turn
        if turn is not None and not turn.cancel():
            await asyncio.wait([asyncio.wrap_future(turn)])
        closer = getattr(state.generator, "close", None)
        if closer is not None and not state.finished:
            # Closing runs the generator's cleanup (closing storage streams): on the pool,
            # unless it is shut down (the process is stopping).
            try:
                closing = executor.submit(closer)
            except RuntimeError:
                closer()
            else:
                await asyncio.wrap_future(closing)


class _Producer:
    """Where a `from_thread` generator is: its iterator, the pool task that last ran it, and
    whether it is parked (waiting for the consumer), finished, or stopped by the consumer."""

    def __init__(self) -> None:
        self.generator: Iterator[bytes] | None = None
        self.turn: Future[None] | None = None
        self.parked = False
        self.finished = False
        self.stopped = False


class _Pump:
    """The bounded queue between a producing task and its consumer, and how the consumer
    ends: at most `depth` chunks wait unread."""

    def __init__(self, depth: int) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=depth)

    async def get(self) -> bytes | None:
        """The next chunk, None at the end; the producer's error is raised here."""
        item = await self.queue.get()
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
