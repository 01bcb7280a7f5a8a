"""Helpers shared by the object-store tests: driving coroutines, bodies, payloads."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from artifactsvc.objects import ObjectStore

T = TypeVar("T")
MiB = 1024 * 1024
S3_PREFIX = "pre/fix"


@dataclass
class Backend:
    """An adapter under test, with a look behind it that does not go through the adapter."""

    name: str
    store: ObjectStore
    stored: Callable[[], list[str]]
    """Every name the backend holds: object keys, and temporary files on a filesystem."""
    uploads: Callable[[], list[str]]
    """Incomplete uploads: open multipart uploads, or temporary files."""


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Drive one scenario on a fresh loop; stores hold no loop-bound state."""
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


async def chunks(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def payload(size: int, seed: int = 0) -> bytes:
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
