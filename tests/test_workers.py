"""The metadata threads (metadata/workers.py): results, errors, the thread bound, batches,
cancelled callers and closing."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from artifactsvc.metadata.workers import Workers


def test_results_and_errors_reach_the_caller() -> None:
    workers = Workers(2, name="test")

    def fails() -> int:
        raise ValueError("no such row")

    async def main() -> None:
        assert await workers.run(lambda: 41 + 1) == 42
        with pytest.raises(ValueError, match="no such row"):
            await workers.run(fails)

    try:
        asyncio.run(main())
    finally:
        workers.close()


def test_calls_run_off_the_loop_on_at_most_the_threads_given() -> None:
    workers = Workers(3, name="bounded")
    running = 0
    most = 0
    names: set[str] = set()
    lock = threading.Lock()

    def call() -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return threading.current_thread().name

    async def main() -> list[str]:
        loop_thread = threading.current_thread().name
        found = await asyncio.gather(*(workers.run(call) for _ in range(40)))
        assert loop_thread not in found
        return found

    try:
        names.update(asyncio.run(main()))
    finally:
        workers.close()
    assert most == 3  # 40 calls at once: all three threads busy, never a fourth
    assert len(names) == 3 and all(name.startswith("bounded_") for name in names)


def test_many_finished_calls_are_settled_in_few_wake_ups() -> None:
    """While the loop is busy, finished calls wait in one batch for one wake-up."""
    workers = Workers(4, name="batch")
    settles = 0
    real_settle = workers._settle

    def counting(loop: asyncio.AbstractEventLoop) -> None:
        nonlocal settles
        settles += 1
        real_settle(loop)

    workers._settle = counting  # type: ignore[method-assign]

    def echo(n: int) -> Callable[[], int]:
        return lambda: n

    async def main() -> list[int]:
        calls = [asyncio.ensure_future(workers.run(echo(n))) for n in range(200)]
        await asyncio.sleep(0)  # the calls are queued
        time.sleep(0.2)  # the loop is busy while the threads finish them all
        return list(await asyncio.gather(*calls))

    try:
        assert asyncio.run(main()) == list(range(200))
    finally:
        workers.close()
    assert settles < 20


def test_a_cancelled_caller_does_not_break_the_others() -> None:
    workers = Workers(1, name="cancel")
    started = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5)
        ran.append("slow")
        return "slow"

    def queued() -> str:
        ran.append("queued")
        return "queued"

    async def main() -> str:
        first = asyncio.ensure_future(workers.run(slow))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        second = asyncio.ensure_future(workers.run(queued))
        await asyncio.sleep(0)
        second.cancel()  # still queued behind `slow`: it never runs
        first.cancel()  # already running: it finishes, and nobody hears of it
        release.set()
        for task in (first, second):
            with pytest.raises(asyncio.CancelledError):
                await task
        return await workers.run(lambda: "after")

    try:
        assert asyncio.run(main()) == "after"
    finally:
        workers.close()
    assert ran == ["slow"]


def test_close_waits_for_queued_calls_then_refuses_new_ones() -> None:
    workers = Workers(1, name="close")
    done: list[int] = []

    def record(n: int) -> Callable[[], None]:
        def call() -> None:
            time.sleep(0.01)
            done.append(n)

        return call

    async def start() -> None:
        for n in range(5):
            asyncio.ensure_future(workers.run(record(n)))
        await asyncio.sleep(0)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(start())
        workers.close()  # the loop never runs again: the results have nowhere to go
    finally:
        loop.close()
    assert done == [0, 1, 2, 3, 4]

    async def after() -> None:
        await workers.run(lambda: None)

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(after())
