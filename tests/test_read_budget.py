"""Downloads share one read-ahead budget (streams.ReadBudget, DOWNLOAD_BUFFER_BUDGET): a
lone stream reads large chunks, many streams read smaller ones, so together they hold about
the budget; and the glibc arena cap the server applies before its threads start."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import pytest
from starlette.types import Message

from artifactsvc.api.downloads import primed
from artifactsvc.api.responses import StreamingResponse
from artifactsvc.objects.filesystem import FilesystemObjectStore
from artifactsvc.server.memory import limit_arenas
from artifactsvc.streams import ReadBudget
from tests.support.streams import chunks, payload, run

KiB = 1024
MiB = 1024 * KiB


def test_a_lone_stream_reads_the_largest_chunks_and_many_share_the_budget() -> None:
    budget = ReadBudget(32 * MiB, depth=4, largest=MiB, smallest=128 * KiB)
    assert budget.chunk() == MiB
    budget.streams = 2
    assert budget.chunk() == MiB  # 32 MiB / (6 chunks x 2) is more than a MiB
    budget.streams = 100
    # Many streams read nothing ahead and hold two chunks each: 32 MiB / (2 x 100).
    assert budget.chunk() == 32 * MiB // 200
    budget.streams = 10_000
    assert budget.chunk() == 128 * KiB  # never smaller: hops per byte would cost the CPU


class Chunk(bytes):
    """A chunk that notes when it is freed (bytes take no weak reference)."""

    freed: ClassVar[list[int]] = []

    def __del__(self) -> None:
        Chunk.freed.append(self[0])


def test_a_sent_chunk_is_let_go_before_the_next_is_read() -> None:
    # What ReadBudget counts for many streams: the read in flight, and the chunk before it
    # only while the transport still sends its tail. Every layer of a download (store
    # stream, budget, replay of the first chunk, the response) must drop a chunk once it
    # is sent, or each stream holds one more.
    budget = ReadBudget(MiB, depth=2, largest=MiB, smallest=KiB)
    budget.streams = 2  # this one is the third: no read-ahead
    held_while_reading: list[int] = []

    async def source(size: Callable[[], int]) -> AsyncIterator[bytes]:
        for n in range(6):
            held_while_reading.append(n - len(Chunk.freed))
            yield Chunk(bytes([n]) * size())

    async def scenario() -> list[int]:
        sizes: list[int] = []

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body" and message["body"]:
                sizes.append(len(message["body"]))

        response = StreamingResponse(await primed(budget.stream(source)))
        await response.stream_response(send)
        return sizes

    Chunk.freed.clear()
    assert run(scenario()) == [MiB // 6] * 6
    assert held_while_reading == [0] * 6


def test_a_budget_needs_a_range_of_read_sizes() -> None:
    with pytest.raises(ValueError):
        ReadBudget(MiB, largest=64 * KiB, smallest=128 * KiB)


def test_streams_are_counted_until_their_consumer_is_done_or_gone(tmp_path: Path) -> None:
    data = payload(8 * MiB)

    async def scenario() -> None:
        with ThreadPoolExecutor(4) as executor:
            store = FilesystemObjectStore(tmp_path, executor=executor)
            await store.put_stream("a", chunks([data]))
            budget = ReadBudget(4 * MiB, depth=2, largest=MiB, smallest=64 * KiB)

            def opened(size: object) -> AsyncIterator[bytes]:
                assert callable(size)
                return store.stream("a", chunk_size=size)

            whole = budget.stream(opened)
            assert b"".join([chunk async for chunk in whole]) == data
            assert budget.streams == 0
            left = [budget.stream(opened) for _ in range(8)]
            firsts = [await anext(stream) for stream in left]
            assert budget.streams == 8
            # The first read of each was sized for the streams already running.
            assert len(firsts[0]) == MiB and len(firsts[-1]) < MiB
            # Once the chunks read ahead before (up to two for the first two streams, which
            # started with few others) are taken, reads are sized for all eight, none read
            # ahead: 4 MiB / (2 x 8).
            later = [[await anext(stream) for _ in range(6)][-1] for stream in left]
            assert max(len(chunk) for chunk in later) <= 4 * MiB // 16
            for stream in left:
                await stream.aclose()
            assert budget.streams == 0

    run(scenario())


def test_a_failing_stream_leaves_the_count(tmp_path: Path) -> None:
    async def failing(size: object) -> AsyncIterator[bytes]:
        yield b"x"
        raise OSError("storage went away")

    async def scenario() -> None:
        budget = ReadBudget(MiB)
        with contextlib.suppress(OSError):
            async for _ in budget.stream(failing):
                assert budget.streams == 1
        assert budget.streams == 0

    asyncio.run(scenario())


def test_the_arena_cap_is_applied_on_glibc_and_zero_leaves_the_default() -> None:
    assert limit_arenas(0) is False
    assert limit_arenas(2) is True  # Debian's glibc
