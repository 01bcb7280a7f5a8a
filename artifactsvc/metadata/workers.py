"""The threads that run the database's blocking calls for the event loop.

`loop.run_in_executor` costs more than a primary-key read itself: a concurrent future, an
asyncio future chained to it, and a wake-up of the loop (a write to its self-pipe) per call.
Here a call carries its asyncio future to the thread, and finished calls are handed back in
batches: under load, one wake-up of the loop settles every call that finished meanwhile.

Threads start as calls find none idle, up to `threads`; `close` stops them after the calls
already queued.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]
_Done = tuple["asyncio.Future[Any]", bool, Any]


class Workers:
    def __init__(self, threads: int, *, name: str) -> None:
        self._max = threads
        self._name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        # Finished calls not yet settled on their loop, by loop.
        self._done: dict[asyncio.AbstractEventLoop, list[_Done]] = {}

    async def run(self, fn: Callable[[], T]) -> T:
        """`fn()` on one of the threads; its result or exception here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name}: closed")
            if self._idle <= 0 and len(self._threads) < self._max:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._idle -= 1  # this call takes an idle thread, or queues for the next one
        self._calls.put((loop, future, fn))
        return await future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            call = self._calls.get()
            if call is None:
                return
            loop, future, fn = call
            if future.cancelled():
                continue  # its caller is gone (read from here racily: at worst it runs)
            try:
                done: _Done = (future, True, fn())
            except BaseException as error:  # handed to the caller, as an executor does
                done = (future, False, error)
            self._finish(loop, done)

    def _finish(self, loop: asyncio.AbstractEventLoop, done: _Done) -> None:
        with self._lock:
            batch = self._done.setdefault(loop, [])
            batch.append(done)
            if len(batch) > 1:
                return  # the loop is already called to settle this batch
        try:
            loop.call_soon_threadsafe(self._settle, loop)
        except RuntimeError:  # the loop has closed: nobody awaits these any more
            with self._lock:
                self._done.pop(loop, None)

    def _settle(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch = self._done.pop(loop, [])
        for future, ok, value in batch:
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def close(self) -> None:
        """Waits for the queued calls, then for every thread to stop."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._calls.put(None)
        for thread in threads:
            thread.join()
