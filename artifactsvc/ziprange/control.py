"""What one piece of zip work may spend, and how its caller stops it.

A thread cannot be interrupted, so long zip work (inflating a member, walking an index)
asks its `WorkControl` between steps: `step()` raises `WorkCancelled` once the caller has
called `cancel()` (the client went away), and `inflated(n)` also counts the bytes a read
inflates into a shared counter (`/metrics`). A Range deep into a compressed member inflates
for a long time without yielding anything, so the check sits in the inflate loop itself, not
only between the chunks handed to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class WorkCancelled(Exception):
    """Raised inside zip work whose caller no longer wants its result; never reaches HTTP."""


class WorkControl:
    """A cancel flag set from the event loop and read by a zip thread, and a byte counter."""

    __slots__ = ("_count", "cancelled")

    def __init__(self, count: Callable[[int], None] | None = None) -> None:
        self.cancelled = False
        self._count = count

    def cancel(self) -> None:
        # A plain attribute: written by one thread, read by another, no lock needed.
        self.cancelled = True

    def step(self) -> None:
        if self.cancelled:
            raise WorkCancelled()

    def inflated(self, n: int) -> None:
        if self._count is not None:
            self._count(n)
        if self.cancelled:
            raise WorkCancelled()


def watched(items: Iterable[T], control: WorkControl | None, every: int = 256) -> Iterator[T]:
    """`items`, checking `control` every `every` items."""
    if control is None:
        yield from items
        return
    for n, item in enumerate(items):
        if n % every == 0:
            control.step()
        yield item
