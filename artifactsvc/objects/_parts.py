"""Regrouping an upload's chunks into fixed-size parts, holding at most one part."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator


class PartBuffers:
    """Part-sized buffers handed back once their part has landed, for the next part.

    A fresh part-sized buffer is fresh memory: the allocator maps it, and every one of its
    pages faults on first write, on the event loop (py-spy, a 128 MiB upload on the 2-core
    bench VM: filling parts was the loop's largest cost). A buffer written before costs a
    copy only. Holds no more than its user does: every buffer here was one of the parts the
    upload was already allowed to hold, and all go with this object."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[bytearray] = []

    def take(self) -> bytearray:
        return self._free.pop() if self._free else bytearray(self.size)

    def give(self, buffer: bytearray) -> None:
        """`buffer` may be written again: nothing reads it any more (its part has landed)."""
        if len(buffer) == self.size:
            self._free.append(buffer)


async def regroup(
    chunks: AsyncIterator[bytes], size: int, buffers: PartBuffers | None = None
) -> AsyncGenerator[tuple[bytearray, bool], None]:
    """Yield `(part, is_last)`: parts of exactly `size` bytes, then a last one of 0..size.

    A full part is yielded only once more data has arrived, so the last part is empty only
    when there was no data at all, and an object of exactly one part is seen as the last one.
    The first part grows as data comes, so a small upload holds only its own bytes; every
    later part is written in place into a buffer of `size` bytes from `buffers` (which the
    consumer refills with parts it is done with), or grows too without them.
    """
    if size <= 0:
        raise ValueError(f"part size must be positive, not {size}")
    if buffers is not None and buffers.size != size:
        raise ValueError(f"buffers of {buffers.size} bytes for parts of {size}")
    take = buffers.take if buffers is not None else bytearray
    part = bytearray()
    filled = 0
    async for chunk in chunks:
        rest = memoryview(chunk)
        while rest:
            if filled == size:
                yield part, False
                part, filled = take(), 0
            room = min(size - filled, len(rest))
            if len(part) == filled:
                part += rest[:room]  # a growing part
            else:
                part[filled : filled + room] = rest[:room]  # a reused buffer: a copy, no resize
            filled += room
            rest = rest[room:]
    del part[filled:]  # the last part's own length (its buffer is not reused)
    yield part, True
