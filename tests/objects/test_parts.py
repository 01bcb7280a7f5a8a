"""regroup: a request body cut into upload parts, with the part buffers an upload reuses."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

from artifactsvc.objects._parts import PartBuffers, regroup

PART = 8 << 20


async def _chunks(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _parts(size: int, buffers: PartBuffers | None, *chunks: bytes) -> list[bytes]:
    found: list[tuple[bytes, bool]] = []
    async for part, last in regroup(_chunks(*chunks), size, buffers):
        found.append((bytes(part), last))
        if buffers is not None and not last:
            buffers.give(part)  # landed: the next part may be written into it
    return [part for part, _ in found] + [b"last" if found[-1][1] else b"not last"]


def test_a_small_upload_holds_its_own_bytes_not_a_part_sized_buffer() -> None:
    tracemalloc.start()
    try:
        parts = asyncio.run(_parts(PART, PartBuffers(PART), b"x" * 1000, b"y" * 24))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parts == [b"x" * 1000 + b"y" * 24, b"last"]
    assert peak < 1 << 20, peak


def test_parts_written_into_reused_buffers_keep_every_byte_in_order() -> None:
    data = bytes(range(256)) * 41  # 10,496 bytes: three parts of 3,000 and a short last one
    cuts = [data[at : at + 700] for at in range(0, len(data), 700)]
    for buffers in (PartBuffers(3000), None):
        parts = asyncio.run(_parts(3000, buffers, *cuts))
        assert parts[:-1] == [data[at : at + 3000] for at in range(0, len(data), 3000)]
        assert parts[-1] == b"last"


def test_no_data_is_one_empty_last_part_and_an_exact_part_is_the_last() -> None:
    assert asyncio.run(_parts(4, PartBuffers(4))) == [b"", b"last"]
    assert asyncio.run(_parts(4, PartBuffers(4), b"ab", b"cd")) == [b"abcd", b"last"]
