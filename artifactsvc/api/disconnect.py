"""Work a request waits for before its response starts, abandoned when its client leaves.

A Range deep into a large compressed member, a listing of a million entries, a folder zip
whose first member is far away: each makes the handler wait before any header is sent, and
while it waits nobody reads the connection, so a client that gave up was never noticed and
its work ran to the end, holding a zip thread. `unless_disconnected` races the work against
the ASGI `http.disconnect` message; the client's departure cancels the work (which cancels
its zip thread through `ziprange.control`) and the request ends as ClientGone (499, as nginx
logs a client that closed its request).

Only for handlers that have no request body left to read: the body's messages are drained.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.types import Receive

from artifactsvc.api.errors import ClientGone

T = TypeVar("T")


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """`await work`, unless the client disconnects first: then the work is cancelled (and
    awaited) and ClientGone raised."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request.receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    if task.cancelled():
        raise ClientGone()
    return task.result()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
