"""Driving the async ports from a test: one coroutine on a fresh loop, bodies as async streams
of chunks, and payloads of awkward sizes."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Drive one scenario on a fresh loop; stores hold no loop-bound state."""
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


async def chunks(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    """`pieces` as the async stream of chunks `put_stream` takes."""
    for piece in pieces:
        yield piece


async def read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def payload(size: int, seed: int = 0) -> bytes:
    """`size` reproducible bytes, cheap to make even for hundreds of MiB."""
    block = hashlib.sha256(str(seed).encode()).digest() * 4096
    return (block * (size // len(block) + 1))[:size]


def odd_pieces(data: bytes) -> list[bytes]:
    """`data` cut into pieces of awkward sizes, from one byte to about 2 MiB."""
    sizes = itertools.cycle([1, 999_983, 65_537, 3, 1_234_567, 7, 2_097_169])
    pieces, offset = [], 0
    while offset < len(data):
        size = next(sizes)
        pieces.append(data[offset : offset + size])
        offset += size
    return pieces
