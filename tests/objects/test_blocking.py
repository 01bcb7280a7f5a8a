"""Blocking calls on the executor: cancellation never leaves a thread using a resource."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from artifactsvc.blocking import DeadlinePassed, call, finish
from tests.support.streams import run


def test_cancelling_waits_for_a_started_call_and_discards_its_result() -> None:
    started, release = threading.Event(), threading.Event()
    discarded: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5)
        return "open file"

    async def scenario() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            task = asyncio.create_task(call(executor, slow, discard=discarded.append))
            await asyncio.to_thread(started.wait, 5)
            task.cancel()
            await asyncio.sleep(0.1)
            assert not task.done(), "cancellation must wait for the running thread"
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert discarded == ["open file"]

    run(scenario())


def test_cancelling_drops_a_call_that_has_not_started() -> None:
    ran: list[str] = []
    busy = threading.Event()

    async def scenario() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            executor.submit(busy.wait, 5)
            task = asyncio.create_task(call(executor, lambda: ran.append("queued")))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            busy.set()

    run(scenario())
    assert ran == []


def test_cleanup_runs_to_completion_even_when_cancelled_again() -> None:
    done = threading.Event()
    release = threading.Event()

    def cleanup() -> None:
        release.wait(5)
        done.set()

    async def scenario() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            task = asyncio.create_task(finish(executor, cleanup))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            release.set()

    run(scenario())
    assert done.is_set()


def test_a_deadline_counts_the_wait_for_a_thread_and_withdraws_the_queued_call() -> None:
    release = threading.Event()
    ran: list[str] = []

    async def scenario() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            blocker = asyncio.create_task(call(executor, lambda: release.wait(5)))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(DeadlinePassed):
                await call(executor, lambda: ran.append("late"), deadline=0.2)
            assert time.monotonic() - started < 1.0
            release.set()
            await blocker
        assert ran == [], "a call withdrawn at its deadline never runs"

    run(scenario())


def test_a_deadline_does_not_wait_for_a_running_call_and_discards_its_result() -> None:
    release = threading.Event()
    discarded: list[str] = []

    def hung() -> str:
        release.wait(5)
        return "open body"

    async def scenario() -> None:
        with ThreadPoolExecutor(max_workers=1) as executor:
            started = time.monotonic()
            with pytest.raises(DeadlinePassed):
                await call(executor, hung, discard=discarded.append, deadline=0.2)
            assert time.monotonic() - started < 1.0, "the deadline must not wait for the thread"
            release.set()
            await asyncio.sleep(0.1)
        assert discarded == ["open body"]

    run(scenario())
