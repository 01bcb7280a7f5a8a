"""Running blocking calls (boto3, file I/O, zip work) on an executor without leaking them.

A thread cannot be interrupted. When the awaiting task is cancelled, `call` therefore waits
for a call that has already started before it lets the cancellation through, so the cleanup
that follows (closing a body, aborting an upload) never races a thread still using the
resource; a result that arrives for nobody is handed to `discard`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")


async def call(
    executor: Executor, fn: Callable[[], T], *, discard: Callable[[T], object] | None = None
) -> T:
    """Run `fn()` on `executor` and return its result."""
    started = executor.submit(fn)
    future = asyncio.wrap_future(started)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if not started.cancel():
            if discard is not None:
                future.add_done_callback(_discarding(discard))
            await asyncio.wait([future])
        raise


def _discarding(discard: Callable[[T], object]) -> Callable[[asyncio.Future[T]], None]:
    def done(future: asyncio.Future[T]) -> None:
        if not future.cancelled() and future.exception() is None:
            discard(future.result())

    return done


async def finish(executor: Executor, fn: Callable[[], T]) -> T:
    """Run a cleanup call that goes on to completion even if the caller is cancelled again."""
    return await asyncio.shield(asyncio.wrap_future(executor.submit(fn)))
