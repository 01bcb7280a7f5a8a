"""The one bounded pump (artifactsvc/streams.py), fed by a task or by a pool thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from artifactsvc.streams import READ_AHEAD, from_thread, read_ahead

T = TypeVar("T")
CHUNK = b"x" * 1024


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout=20))


class Produced:
    """A producer's side of the story: how many chunks it made, and whether it was closed."""

    def __init__(self) -> None:
        self.made = 0
        self.closed = threading.Event()

    def blocking(self, count: int, *, fail_at: int | None = None) -> Iterator[bytes]:
        try:
            for n in range(count):
                if n == fail_at:
                    raise ValueError(f"failed at {n}")
                self.made += 1
                yield CHUNK
        finally:
            self.closed.set()

    async def asynchronous(self, count: int, *, fail_at: int | None = None) -> AsyncIterator[bytes]:
        for chunk in self.blocking(count, fail_at=fail_at):
            await asyncio.sleep(0)
            yield chunk


Pump = Callable[[Produced, int, int | None], AsyncGenerator[bytes, None]]


def by_task(produced: Produced, count: int, fail_at: int | None) -> AsyncGenerator[bytes, None]:
    return read_ahead(produced.asynchronous(count, fail_at=fail_at))


def by_thread(produced: Produced, count: int, fail_at: int | None) -> AsyncGenerator[bytes, None]:
    pool = ThreadPoolExecutor(2)
    return from_thread(lambda: produced.blocking(count, fail_at=fail_at), pool)


PUMPS = pytest.mark.parametrize("pump", [by_task, by_thread], ids=["task", "thread"])


@PUMPS
def test_every_chunk_arrives_in_order(pump: Pump) -> None:
    async def go() -> int:
        return sum([len(chunk) async for chunk in pump(Produced(), 50, None)])

    assert run(go()) == 50 * len(CHUNK)


@PUMPS
def test_the_producer_runs_at_most_depth_chunks_ahead_of_a_stalled_consumer(pump: Pump) -> None:
    produced = Produced()

    async def go() -> int:
        chunks = pump(produced, 1000, None)
        await chunks.__anext__()
        await asyncio.sleep(0.5)  # the consumer stalls; the producer must stop and wait
        made = produced.made
        await chunks.aclose()
        return made

    # One taken, `depth` queued, and one in the producer's hands waiting for room.
    assert run(go()) <= 1 + READ_AHEAD + 1
    assert produced.closed.wait(5)


@PUMPS
def test_closing_early_stops_and_closes_the_producer(pump: Pump) -> None:
    produced = Produced()

    async def go() -> None:
        chunks = pump(produced, 10_000, None)
        async for _ in chunks:
            break
        await chunks.aclose()

    run(go())
    assert produced.closed.wait(5)
    assert produced.made < 10_000


@PUMPS
def test_an_error_of_the_producer_is_raised_where_its_chunk_would_be(pump: Pump) -> None:
    async def go() -> int:
        seen = 0
        with pytest.raises(ValueError, match="failed at 3"):
            async for _ in pump(Produced(), 10, 3):
                seen += 1
        return seen

    assert run(go()) == 3


def test_an_error_while_making_the_generator_reaches_the_consumer() -> None:
    def broken() -> Iterator[bytes]:
        raise ValueError("eager check failed")

    async def go() -> None:
        with pytest.raises(ValueError, match="eager check failed"):
            async for _ in from_thread(broken, ThreadPoolExecutor(1)):
                pass

    run(go())


def test_a_slow_consumer_gives_its_thread_back_to_the_pool() -> None:
    """One pool thread, two readers: the first stops reading after one chunk (a slow client);
    its producer parks once its queue has been full for a moment, so the second reader's
    producer gets the thread and runs to its end; then the first reads the rest."""
    pool = ThreadPoolExecutor(1)
    slow, fast = Produced(), Produced()

    async def go() -> tuple[int, int]:
        first = from_thread(lambda: slow.blocking(50), pool)
        assert await first.__anext__() == CHUNK
        second = [chunk async for chunk in from_thread(lambda: fast.blocking(50), pool)]
        rest = [chunk async for chunk in first]
        return len(second), 1 + len(rest)

    try:
        assert run(go()) == (50, 50)
    finally:
        pool.shutdown()
    assert slow.closed.is_set() and fast.closed.is_set()
