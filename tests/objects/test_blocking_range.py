"""`ObjectStore.blocking_range`: ranged reads made on the caller's own worker thread.

S3 (moto over HTTP) offers one; the filesystem store offers none, and callers fall back to
the async verbs. Each read is one request, clamped at the end, pinned to its ETag, with the
adapter's own errors; the instrumented store counts and reports it like `get_range`.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from artifactsvc.errors import ObjectChanged, ObjectNotFound, StorageTimeout, StorageUnavailable
from artifactsvc.objects.instrumented import InstrumentedObjectStore
from artifactsvc.objects.port import BlockingRange
from artifactsvc.objects.s3 import S3ObjectStore
from tests.objects.conftest import Backend
from tests.support.storage import CallLog
from tests.support.streams import chunks, payload, run


def _off_loop(
    work: BlockingRange | None, start: int, length: int, *, stream: bool = False
) -> bytes:
    """One read on a worker thread, as FileService makes it (never on the event loop)."""
    assert work is not None
    with ThreadPoolExecutor(1) as pool:
        if stream:
            return pool.submit(lambda: b"".join(work.stream(start, length))).result()
        return pool.submit(work.read, start, length).result()


def test_s3_ranges_read_clamp_and_stream_on_the_calling_thread(s3_backend: Backend) -> None:
    data = payload(300_000, 3)
    store = s3_backend.store

    async def put() -> str:
        return (await store.put_stream("r", chunks([data]))).etag

    etag = run(put())
    reads = store.blocking_range("r", len(data), etag=etag)
    assert reads is not None and reads.size == len(data)
    assert _off_loop(reads, 1000, 5000) == data[1000:6000]
    assert _off_loop(reads, 299_990, 100) == data[299_990:]
    assert _off_loop(reads, 400_000, 10) == b""
    assert _off_loop(reads, 7, 0) == b""
    assert _off_loop(reads, 10, 290_000, stream=True) == data[10:290_010]
    assert _off_loop(reads, 299_000, 5000, stream=True) == data[299_000:]


def test_s3_range_pinned_to_a_replaced_version_raises_object_changed(
    s3_backend: Backend,
) -> None:
    store = s3_backend.store

    async def put(body: bytes) -> str:
        return (await store.put_stream("v", chunks([body]))).etag

    old = run(put(b"version one"))
    run(put(b"version two!"))
    stale = store.blocking_range("v", 11, etag=old)
    assert stale is not None
    with pytest.raises(ObjectChanged):
        _off_loop(stale, 0, 4)
    with pytest.raises(ObjectChanged):
        _off_loop(stale, 0, 4, stream=True)
    missing = store.blocking_range("gone", 10)
    assert missing is not None
    with pytest.raises(ObjectNotFound):
        _off_loop(missing, 0, 4)


def test_s3_stream_abandoned_early_leaves_the_store_usable(s3_backend: Backend) -> None:
    data = payload(1 << 20, 5)
    store = s3_backend.store
    etag = run(store.put_stream("e", chunks([data]))).etag
    reads = store.blocking_range("e", len(data), etag=etag)
    assert reads is not None

    def abandon() -> None:
        for _ in range(20):
            stream = reads.stream(0, len(data))
            first = next(stream)
            assert first and data.startswith(first)
            stream.close()  # type: ignore[attr-defined]

    with ThreadPoolExecutor(1) as pool:
        pool.submit(abandon).result()
    assert _off_loop(reads, 5, 10) == data[5:15]


def test_filesystem_store_has_no_blocking_ranges(filesystem_backend: Backend) -> None:
    assert filesystem_backend.store.blocking_range("k", 10) is None


def test_instrumented_blocking_ranges_are_counted_and_reported(s3_backend: Backend) -> None:
    data = payload(100_000, 7)
    counted: list[str] = []
    log = CallLog()
    store = InstrumentedObjectStore(s3_backend.store, counted.append, observe=log)
    etag = run(store.put_stream("k", chunks([data]))).etag

    async def made_on_the_loop() -> BlockingRange | None:
        await asyncio.sleep(0)
        return store.blocking_range("k", len(data), etag=etag)

    reads = run(made_on_the_loop())
    assert reads is not None
    log.reset()
    counted.clear()
    assert _off_loop(reads, 99_990, 100) == data[99_990:]
    assert _off_loop(reads, 10, 5000, stream=True) == data[10:5010]
    assert counted == ["get", "get"]
    found = [(c.verb, c.key, c.start, c.length, c.bytes) for c in log.calls]
    assert found == [("get_range", "k", 99_990, 100, 10), ("stream", "k", 10, 5000, 5000)]


def _get_objects(store: S3ObjectStore) -> list[str]:
    """The GetObject calls made through botocore from now on (presigned GETs are not)."""
    calls: list[str] = []
    store._client.meta.events.register(
        "before-call.s3.GetObject", lambda **_: calls.append("GetObject")
    )
    return calls


def test_s3_ranges_are_presigned_gets_not_get_object_calls(s3_backend: Backend) -> None:
    store = s3_backend.store
    assert isinstance(store, S3ObjectStore)
    data = payload(50_000, 9)
    etag = run(store.put_stream("p", chunks([data]))).etag
    calls = _get_objects(store)
    reads = store.blocking_range("p", len(data), etag=etag)
    assert _off_loop(reads, 100, 200) == data[100:300]
    assert _off_loop(reads, 0, 50_000, stream=True) == data
    assert _off_loop(reads, 60_000, 10) == b""  # 416: nothing there
    assert calls == []


def test_s3_range_refused_by_the_store_is_asked_again_through_get_object(
    s3_backend: Backend,
) -> None:
    store = s3_backend.store
    assert isinstance(store, S3ObjectStore)
    run(store.put_stream("q", chunks([b"version one"])))
    calls = _get_objects(store)
    with pytest.raises(ObjectChanged):  # the presigned 412, then GetObject's error, ours
        _off_loop(store.blocking_range("q", 11, etag="0" * 32), 0, 4)
    assert calls == ["GetObject"]


def test_s3_range_from_a_dead_endpoint_fails_as_unavailable(closed_port: int) -> None:
    with ThreadPoolExecutor(2) as pool:
        store = S3ObjectStore(
            "bucket",
            executor=pool,
            endpoint_url=f"http://127.0.0.1:{closed_port}",
            connect_timeout=1,
            read_timeout=1,
        )
        with pytest.raises(StorageUnavailable):
            _off_loop(store.blocking_range("k", 100), 0, 10)


def test_s3_range_from_a_hung_endpoint_ends_at_the_storage_deadline(silent_port: int) -> None:
    with ThreadPoolExecutor(2) as pool:
        store = S3ObjectStore(
            "bucket",
            executor=pool,
            endpoint_url=f"http://127.0.0.1:{silent_port}",
            connect_timeout=1,
            read_timeout=5,
            deadline=0.5,
        )
        calls = _get_objects(store)
        for stream in (False, True):
            started = time.monotonic()
            with pytest.raises(StorageTimeout):
                _off_loop(store.blocking_range("k", 100), 0, 10, stream=stream)
            assert time.monotonic() - started < 2.0, "the deadline, not 3 read timeouts"
        assert calls == []  # the presigned GET hung: GetObject was never asked
