"""The thread pools zip work runs on: one per kind of work, each sized by its own setting.

Single-file reads, listings, folder zips and index builds used to share eight threads, so
eight slow reads (a Range deep into a huge compressed member) starved every listing, upload
and unrelated read behind them. Now each kind has its own bounded pool: the worst one kind
can do is fill its own. Work is cancellable (`ziprange.control`), so a client that goes away
frees its thread at the next inflate step.

`WorkPool` counts the tasks waiting for a thread and the threads busy; `ZipWork` adds the
bytes inflated and the reads cancelled. Each change is also told to the gauge or counter
`/metrics` renders (`Metrics.include_zip_work`): prometheus-client's own, so that with
`--workers N` (multiprocess mode) every worker's values are summed, not one worker's shown.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, Protocol, TypeVar

from artifactsvc.ziprange.control import WorkControl

P = ParamSpec("P")
T = TypeVar("T")


class Level(Protocol):
    """A gauge that moves with a count (prometheus-client's Gauge has these)."""

    def inc(self, amount: float = 1) -> None: ...

    def dec(self, amount: float = 1) -> None: ...


class _Unobserved:
    def inc(self, amount: float = 1) -> None:
        pass

    def dec(self, amount: float = 1) -> None:
        pass


class WorkPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor that knows how many of its tasks wait and how many run."""

    def __init__(self, name: str, threads: int) -> None:
        super().__init__(threads, thread_name_prefix=f"zip-{name}")
        self.name = name
        self.threads = threads
        self._count_lock = threading.Lock()
        self.queued = 0
        self.busy = 0
        self.queued_level: Level = _Unobserved()
        self.busy_level: Level = _Unobserved()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        started = False

        def run() -> T:
            nonlocal started
            with self._count_lock:
                started = True
                self.queued -= 1
                self.busy += 1
                self.queued_level.dec()
                self.busy_level.inc()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._count_lock:
                    self.busy -= 1
                    self.busy_level.dec()

        def done(future: Future[T]) -> None:
            with self._count_lock:
                if not started:  # cancelled while it waited
                    self.queued -= 1
                    self.queued_level.dec()

        with self._count_lock:
            self.queued += 1
            self.queued_level.inc()
        future = super().submit(run)
        future.add_done_callback(done)
        return future


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0
        self.mirror: Callable[[float], None] | None = None  # the /metrics counter's `inc`

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n
        if self.mirror is not None:
            self.mirror(n)


@dataclass
class ZipWork:
    """The four pools and the counters of the work done on them."""

    reads: WorkPool
    listings: WorkPool
    folder_zips: WorkPool
    indexes: WorkPool
    inflated: _Counter = field(default_factory=_Counter)
    cancelled: _Counter = field(default_factory=_Counter)

    @classmethod
    def of(cls, *, reads: int, listings: int, folder_zips: int, indexes: int) -> ZipWork:
        return cls(
            WorkPool("reads", reads),
            WorkPool("listings", listings),
            WorkPool("folder-zips", folder_zips),
            WorkPool("indexes", indexes),
        )

    @property
    def pools(self) -> tuple[WorkPool, ...]:
        return (self.reads, self.listings, self.folder_zips, self.indexes)

    def count_inflated(self, n: int) -> None:
        self.inflated.add(n)

    def shutdown(self) -> None:
        for pool in self.pools:
            pool.shutdown(wait=False, cancel_futures=True)


async def call(executor: Executor, fn: Callable[[], T], control: WorkControl | None = None) -> T:
    """`fn()` on `executor`. If the caller is cancelled (its client went away), `control` is
    cancelled first, so the thread stops at its next step, and the call is then awaited
    before the cancellation goes on (nothing it uses is closed under it); a task still
    waiting for a thread is withdrawn."""
    started = executor.submit(fn)
    future = asyncio.wrap_future(started)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if control is not None:
            control.cancel()
        if not started.cancel():
            await asyncio.wait([future])
        raise
