"""The thread pools zip work runs on: one per kind of work, each sized by its own setting.

Single-file reads, listings, folder zips and index builds used to share eight threads, so
eight slow reads (a Range deep into a huge compressed member) starved every listing, upload
and unrelated read behind them. Now each kind has its own bounded pool: the worst one kind
can do is fill its own. Work is cancellable (`ziprange.control`), so a client that goes away
frees its thread at the next inflate step.

`WorkPool` counts the tasks waiting for a thread and the threads busy; `ZipWork` adds the
bytes inflated and the reads cancelled, and renders them all for `/metrics`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from artifactsvc.ziprange.control import WorkControl

P = ParamSpec("P")
T = TypeVar("T")


class WorkPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor that knows how many of its tasks wait and how many run."""

    def __init__(self, name: str, threads: int) -> None:
        super().__init__(threads, thread_name_prefix=f"zip-{name}")
        self.name = name
        self.threads = threads
        self._count_lock = threading.Lock()
        self.queued = 0
        self.busy = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        started = False

        def run() -> T:
            nonlocal started
            with self._count_lock:
                started = True
                self.queued -= 1
                self.busy += 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._count_lock:
                    self.busy -= 1

        def done(future: Future[T]) -> None:
            with self._count_lock:
                if not started:  # cancelled while it waited
                    self.queued -= 1

        with self._count_lock:
            self.queued += 1
        future = super().submit(run)
        future.add_done_callback(done)
        return future


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


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

    def render(self) -> list[str]:
        lines = [
            "# HELP artifactsvc_zip_inflated_bytes_total Bytes inflated by single-file reads.",
            "# TYPE artifactsvc_zip_inflated_bytes_total counter",
            f"artifactsvc_zip_inflated_bytes_total {self.inflated.value}",
            "# HELP artifactsvc_zip_cancelled_total Zip work stopped because its client left.",
            "# TYPE artifactsvc_zip_cancelled_total counter",
            f"artifactsvc_zip_cancelled_total {self.cancelled.value}",
        ]
        gauges: list[tuple[str, str, Callable[[WorkPool], Any]]] = [
            ("artifactsvc_zip_threads", "Threads of each zip pool.", lambda p: p.threads),
            ("artifactsvc_zip_threads_busy", "Zip threads running a task.", lambda p: p.busy),
            ("artifactsvc_zip_tasks_queued", "Zip tasks waiting for a thread.", lambda p: p.queued),
        ]
        for name, text, value in gauges:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge"]
            lines += [f'{name}{{pool="{p.name}"}} {value(p)}' for p in self.pools]
        return lines


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
