"""Running blocking calls (boto3, file I/O, zip work) on an executor without leaking them.

A thread cannot be interrupted. When the awaiting task is cancelled, `call` therefore waits
for a call that has already started before it lets the cancellation through, so the cleanup
that follows (closing a body, aborting an upload) never races a thread still using the
resource; a result that arrives for nobody is handed to `discard`.

A `deadline` is different: it bounds the call from the moment it is asked for, time spent
waiting for a free thread included, and past it `DeadlinePassed` is raised at once. A call
still queued is withdrawn; one already running is left to finish for nobody (its result
goes to `discard`), because waiting for a thread blocked on a hung store is exactly the
slowness the deadline is there to cut.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

T = TypeVar("T")


class DeadlinePassed(TimeoutError):
    """A blocking call did not answer within its deadline (queueing included)."""


async def call(
    executor: Executor,
    fn: Callable[[], T],
    *,
    discard: Callable[[T], object] | None = None,
    deadline: float | None = None,
) -> T:
    """Run `fn()` on `executor` and return its result, within `deadline` seconds if given."""
    started = executor.submit(fn)
    future = asyncio.wrap_future(started)
    try:
        return await asyncio.wait_for(asyncio.shield(future), deadline)
    except TimeoutError:
        if future.done() and not future.cancelled():
            raise  # fn itself raised TimeoutError
        if not started.cancel():
            future.add_done_callback(_discarding(discard))
        raise DeadlinePassed(f"no answer within {deadline} s") from None
    except asyncio.CancelledError:
        if not started.cancel():
            future.add_done_callback(_discarding(discard))
            await asyncio.wait([future])
        raise


def _discarding(discard: Callable[[T], object] | None) -> Callable[[asyncio.Future[T]], None]:
    def done(future: asyncio.Future[T]) -> None:
        # Retrieving the exception also keeps asyncio from logging it as never retrieved.
        if not future.cancelled() and future.exception() is None and discard is not None:
            discard(future.result())

    return done


async def finish(executor: Executor, fn: Callable[[], T]) -> T:
    """Run a cleanup call that goes on to completion even if the caller is cancelled again."""
    return await asyncio.shield(asyncio.wrap_future(executor.submit(fn)))
