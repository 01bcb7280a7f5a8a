"""Regrouping an upload's chunks into fixed-size parts, holding at most one part."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator


async def regroup(
    chunks: AsyncIterator[bytes], size: int
) -> AsyncGenerator[tuple[bytearray, bool], None]:
    """Yield `(part, is_last)`: parts of exactly `size` bytes, then a last one of 0..size.

    A full part is yielded only once more data has arrived, so the last part is empty only
    when there was no data at all, and an object of exactly one part is seen as the last one.
    """
    if size <= 0:
        raise ValueError(f"part size must be positive, not {size}")
    part = bytearray()
    async for chunk in chunks:
        rest = memoryview(chunk)
        while rest:
            if len(part) == size:
                yield part, False
                part = bytearray()
            room = size - len(part)
            part += rest[:room]
            rest = rest[room:]
    yield part, True
