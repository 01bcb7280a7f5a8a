"""The `ObjectStore` contract, proved once against every adapter (see conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from artifactsvc.errors import ArtifactTooLarge, ObjectChanged, ObjectNotFound, StorageError
from tests.objects.conftest import Backend
from tests.support.streams import chunks, odd_pieces, payload, read_all, run
from tests.support.zips import MiB

PART = 5 * MiB  # S3's smallest part


class Blocking:
    """An upload body that sends `first`, one more byte, then waits until told to go on."""

    def __init__(self, first: bytes, then: bytes = b"") -> None:
        self.first, self.then = first, then
        self.waiting = asyncio.Event()
        self.go_on = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        yield b"!"  # pushes the first part out: it is full and more data has come
        self.waiting.set()
        await self.go_on.wait()
        yield self.then


def test_round_trip_returns_what_a_head_reports(backend: Backend) -> None:
    async def scenario() -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        info = await backend.store.put_stream("a/b/hello.txt", chunks([b"hello ", b"world"]))
        assert (info.key, info.size) == ("a/b/hello.txt", 11)
        assert info.etag and '"' not in info.etag
        assert before <= info.last_modified <= datetime.now(UTC) + timedelta(seconds=5)
        # From the upload's own answers (S3: no HEAD after it), the same as a HEAD's but for
        # the time, which S3 gives to the second and by its own clock.
        head = await backend.store.head("a/b/hello.txt")
        assert (head.key, head.size, head.etag) == (info.key, info.size, info.etag)
        assert abs(head.last_modified - info.last_modified) < timedelta(seconds=5)
        assert await backend.store.get_range("a/b/hello.txt", 0, 100) == b"hello world"
        assert await read_all(backend.store.stream("a/b/hello.txt")) == b"hello world"

    run(scenario())


def test_odd_chunks_crossing_part_boundaries_arrive_intact(backend: Backend) -> None:
    data = payload(11 * MiB + 12_345)

    async def scenario() -> None:
        info = await backend.store.put_stream("big.bin", chunks(odd_pieces(data)), part_size=PART)
        assert info.size == len(data)
        stored = await read_all(backend.store.stream("big.bin", chunk_size=MiB))
        assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
        assert await backend.store.get_range("big.bin", PART - 3, 6) == data[PART - 3 : PART + 3]

    run(scenario())


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1])
def test_sizes_around_one_part_round_trip(backend: Backend, size: int) -> None:
    data = payload(size, seed=size)

    async def scenario() -> None:
        info = await backend.store.put_stream("k", chunks(odd_pieces(data)), part_size=PART)
        assert info.size == size
        assert await read_all(backend.store.stream("k", chunk_size=MiB)) == data
        # One PUT or a multipart upload: its answer's ETag is the one reads are pinned to.
        assert (await backend.store.head("k")).etag == info.etag
        assert await backend.store.get_range("k", 0, 1, etag=info.etag) == data[:1]

    run(scenario())


def test_failing_body_aborts_the_upload_and_propagates(backend: Backend) -> None:
    too_large = ArtifactTooLarge("over the limit")
    seen_in_progress: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        yield payload(PART)
        yield payload(MiB)
        seen_in_progress.extend(backend.storage.uploads())
        raise too_large

    async def scenario() -> None:
        with pytest.raises(ArtifactTooLarge) as raised:
            await backend.store.put_stream("dir/x.zip", body(), part_size=PART)
        assert raised.value is too_large
        with pytest.raises(ObjectNotFound):
            await backend.store.head("dir/x.zip")

    run(scenario())
    assert seen_in_progress, "the upload should have been under way"
    assert backend.storage.uploads() == []
    assert backend.storage.stored() == []


def test_cancelled_upload_is_aborted(backend: Backend) -> None:
    async def scenario() -> list[str]:
        body = Blocking(payload(PART))
        task = asyncio.create_task(backend.store.put_stream("c.zip", aiter(body), part_size=PART))
        await body.waiting.wait()
        in_progress = backend.storage.uploads()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(ObjectNotFound):
            await backend.store.head("c.zip")
        return in_progress

    assert run(scenario()), "the upload should have been under way"
    assert backend.storage.uploads() == []
    assert backend.storage.stored() == []


def test_read_pinned_to_a_replaced_version_raises_object_changed(backend: Backend) -> None:
    async def scenario() -> None:
        old = await backend.store.put_stream("v", chunks([b"version one"]))
        new = await backend.store.put_stream("v", chunks([b"version two!"]))
        assert old.etag != new.etag
        with pytest.raises(ObjectChanged):
            await backend.store.get_range("v", 0, 4, etag=old.etag)
        with pytest.raises(ObjectChanged):
            await read_all(backend.store.stream("v", etag=old.etag))
        assert await backend.store.get_range("v", 8, 4, etag=new.etag) == b"two!"
        assert await read_all(backend.store.stream("v", 8, etag=new.etag)) == b"two!"

    run(scenario())


def test_get_range_clamps_at_the_end(backend: Backend) -> None:
    data = payload(100)

    async def scenario() -> None:
        await backend.store.put_stream("r", chunks([data]))
        assert await backend.store.get_range("r", 90, 50) == data[90:]
        assert await backend.store.get_range("r", 100, 10) == b""
        assert await backend.store.get_range("r", 5000, 10) == b""
        assert await backend.store.get_range("r", 3, 0) == b""

    run(scenario())


def test_stream_reads_a_window_in_chunks(backend: Backend) -> None:
    data = payload(5000)

    async def scenario() -> None:
        await backend.store.put_stream("w", chunks([data]))
        window = [c async for c in backend.store.stream("w", 10, 1000, chunk_size=64)]
        assert b"".join(window) == data[10:1010]
        assert max(map(len, window)) <= 64
        assert await read_all(backend.store.stream("w", 4000)) == data[4000:]
        assert await read_all(backend.store.stream("w", 4990, 100)) == data[4990:]
        assert await read_all(backend.store.stream("w", 6000)) == b""

    run(scenario())


def test_stream_closed_early_leaves_the_store_usable(backend: Backend) -> None:
    data = payload(256 * 1024)

    async def scenario() -> None:
        await backend.store.put_stream("e", chunks([data]))
        for _ in range(20):
            stream = backend.store.stream("e", chunk_size=1024)
            assert await anext(stream) == data[:1024]
            await stream.aclose()  # type: ignore[attr-defined]
        assert await backend.store.get_range("e", 1024, 4) == data[1024:1028]

    run(scenario())


def test_missing_key_raises_object_not_found(backend: Backend) -> None:
    async def scenario() -> None:
        with pytest.raises(ObjectNotFound):
            await backend.store.head("no/such/key")
        with pytest.raises(ObjectNotFound):
            await backend.store.get_range("no/such/key", 0, 10)
        with pytest.raises(ObjectNotFound):
            await read_all(backend.store.stream("no/such/key"))

    run(scenario())


def test_delete_is_idempotent(backend: Backend) -> None:
    async def scenario() -> None:
        await backend.store.put_stream("d/1", chunks([b"x"]))
        await backend.store.delete("d/1")
        with pytest.raises(ObjectNotFound):
            await backend.store.head("d/1")
        await backend.store.delete("d/1")
        await backend.store.delete("never/was")

    run(scenario())


def test_list_yields_keys_under_a_prefix(backend: Backend) -> None:
    async def scenario() -> None:
        infos = {}
        for key in ["a/1", "a/2", "ab/1", "b/1"]:
            infos[key] = await backend.store.put_stream(key, chunks([key.encode()]))

        async def keys(prefix: str) -> set[str]:
            return {info.key async for info in backend.store.list(prefix)}

        assert await keys("a/") == {"a/1", "a/2"}
        assert await keys("a") == {"a/1", "a/2", "ab/1"}
        assert await keys("") == set(infos)
        assert await keys("c") == set()
        listed = {info.key: info async for info in backend.store.list()}
        # What the upload said it stored, but for the time: the store's own (to the second).
        assert {k: (i.size, i.etag) for k, i in listed.items()} == {
            k: (i.size, i.etag) for k, i in infos.items()
        }

    run(scenario())


def test_stale_uploads_are_aborted_and_their_upload_fails(backend: Backend) -> None:
    async def scenario() -> None:
        body = Blocking(payload(PART), then=b"more")
        task = asyncio.create_task(backend.store.put_stream("s.zip", aiter(body), part_size=PART))
        await body.waiting.wait()
        assert await backend.store.abort_stale_uploads(datetime(2000, 1, 1, tzinfo=UTC)) == 0
        assert backend.storage.uploads()
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert await backend.store.abort_stale_uploads(later) == 1
        assert backend.storage.uploads() == []
        body.go_on.set()
        with pytest.raises(StorageError):
            await task
        with pytest.raises(ObjectNotFound):
            await backend.store.head("s.zip")

    run(scenario())


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a\x00b"])
def test_keys_that_are_not_plain_names_are_refused(backend: Backend, key: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ValueError):
            await backend.store.put_stream(key, chunks([b"x"]))
        with pytest.raises(ValueError):
            await backend.store.head(key)
        with pytest.raises(ValueError):
            await read_all(backend.store.stream(key))

    run(scenario())
    assert backend.storage.stored() == []


def test_ping_answers(backend: Backend) -> None:
    run(backend.store.ping())
