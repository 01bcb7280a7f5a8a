"""What only the S3 adapter does: requests it makes, failures of the endpoint, presigning.

The adapter's boto3 client is reached through `store._client` to count and inspect requests;
the behaviour itself is checked against moto over HTTP, or against sockets that misbehave.
"""

from __future__ import annotations

import asyncio
import socketserver
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ConnectionClosedError as BotoConnectionClosedError

from artifactsvc.errors import ObjectNotFound, StorageError, StorageTimeout, StorageUnavailable
from artifactsvc.objects.s3 import S3ObjectStore
from tests.objects.conftest import S3_PREFIX, Backend
from tests.support.streams import chunks, payload, read_all, run
from tests.support.zips import MiB

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

PART = 5 * MiB


@pytest.fixture(autouse=True)
def aws_env(moto_endpoint: str) -> None:
    """Every test here signs requests with the fake credentials moto_endpoint puts in AWS_*."""


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def s3(backend: Backend) -> S3ObjectStore:
    assert isinstance(backend.store, S3ObjectStore)
    return backend.store


def record_calls(store: S3ObjectStore) -> list[str]:
    calls: list[str] = []

    def before_call(model: Any, **_: Any) -> None:
        calls.append(model.name)

    store._client.meta.events.register("before-call.s3", before_call)
    return calls


def unreachable(executor: ThreadPoolExecutor, endpoint_url: str) -> S3ObjectStore:
    return S3ObjectStore(
        "bucket",
        executor=executor,
        endpoint_url=endpoint_url,
        connect_timeout=1,
        read_timeout=1,
    )


class _Truncating(socketserver.BaseRequestHandler):
    """Promises a megabyte and hangs up after 100 kB."""

    def handle(self) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            more = self.request.recv(65536)
            if not more:
                return
            received += more
        head = b'HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nETag: "e"\r\n\r\n'
        self.request.sendall(head + b"x" * 100_000)
        self.after_body()

    def after_body(self) -> None:
        pass


class _Stalling(_Truncating):
    """Promises a megabyte, sends 100 kB and then nothing."""

    def after_body(self) -> None:
        self.request.recv(1)  # nothing more, until the client hangs up


def _serving(handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def truncating_port() -> Iterator[int]:
    """An endpoint that promises a megabyte and hangs up after 100 kB."""
    yield from _serving(_Truncating)


@pytest.fixture
def stalling_port() -> Iterator[int]:
    """An endpoint that promises a megabyte, sends 100 kB and then nothing."""
    yield from _serving(_Stalling)


async def aborted(backend: Backend) -> None:
    """Wait (up to 10 s) for the bucket to hold no multipart upload. The abort runs in the
    background (the request that failed does not wait for a store that may be hung), so it
    is awaited here, on the loop it runs on."""
    for _ in range(100):
        if not await asyncio.to_thread(backend.storage.uploads):
            return
        await asyncio.sleep(0.1)


@pytest.fixture
def s3_store(s3_backend: Backend) -> S3ObjectStore:
    return s3(s3_backend)


def test_uploads_use_one_put_below_a_part_and_multipart_above(s3_store: S3ObjectStore) -> None:
    """And nothing after it: the ETag comes from the PUT's or the completion's answer."""
    calls = record_calls(s3_store)

    async def scenario() -> None:
        await s3_store.put_stream("small", chunks([b"x" * 10]), part_size=PART)
        assert calls == ["PutObject"]
        calls.clear()
        await s3_store.put_stream("one-part", chunks([payload(PART)]), part_size=PART)
        assert calls == ["PutObject"]
        calls.clear()
        await s3_store.put_stream("big", chunks([payload(11 * MiB)]), part_size=PART)
        multipart = ["CreateMultipartUpload"] + ["UploadPart"] * 3 + ["CompleteMultipartUpload"]
        assert calls == multipart

    run(scenario())


def test_parts_below_the_s3_minimum_are_refused_before_uploading(
    s3_backend: Backend,
) -> None:
    with pytest.raises(ValueError):
        run(s3_backend.store.put_stream("k", chunks([b"x"]), part_size=PART - 1))
    assert s3_backend.storage.uploads() == []
    assert s3_backend.storage.stored() == []


def test_stream_is_one_ranged_pinned_get(s3_store: S3ObjectStore) -> None:
    sent: list[tuple[str | None, str | None]] = []

    def before_send(request: Any, **_: Any) -> None:
        sent.append((_text(request.headers.get("Range")), _text(request.headers.get("If-Match"))))

    async def scenario() -> None:
        info = await s3_store.put_stream("w", chunks([payload(5000)]))
        s3_store._client.meta.events.register("before-send.s3.GetObject", before_send)
        data = await read_all(s3_store.stream("w", 10, 1000, etag=info.etag, chunk_size=64))
        assert data == payload(5000)[10:1010]
        assert sent == [("bytes=10-1009", info.etag)]

    run(scenario())


def test_stream_closed_early_closes_the_http_body(s3_store: S3ObjectStore) -> None:
    bodies: list[Any] = []

    def after_call(parsed: Any, **_: Any) -> None:
        bodies.append(parsed["Body"])

    async def scenario() -> None:
        await s3_store.put_stream("e", chunks([payload(256 * 1024)]))
        s3_store._client.meta.events.register("after-call.s3.GetObject", after_call)
        stream = s3_store.stream("e", chunk_size=1024)
        await anext(stream)
        assert not bodies[0]._raw_stream.closed
        await stream.aclose()  # type: ignore[attr-defined]
        assert bodies[0]._raw_stream.closed

    run(scenario())


def test_cancelling_during_a_part_upload_still_aborts(s3_backend: Backend) -> None:
    store = s3(s3_backend)
    in_flight = threading.Event()

    def slow_part(**_: Any) -> None:
        in_flight.set()
        time.sleep(0.5)

    store._client.meta.events.register("before-send.s3.UploadPart", slow_part)

    async def body() -> Any:
        yield payload(PART)
        yield b"!"
        await asyncio.Event().wait()

    async def scenario() -> None:
        task = asyncio.create_task(store.put_stream("c", body(), part_size=PART))
        await asyncio.to_thread(in_flight.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await aborted(s3_backend)

    run(scenario())
    assert s3_backend.storage.uploads() == []
    assert s3_backend.storage.stored() == []


def test_keys_live_under_the_configured_prefix(s3_backend: Backend) -> None:
    async def scenario() -> None:
        await s3_backend.store.put_stream("x/y", chunks([b"1"]))
        assert [info.key async for info in s3_backend.store.list()] == ["x/y"]

    run(scenario())
    assert s3_backend.storage.stored() == [f"{S3_PREFIX}/x/y"]


def test_stale_upload_cleanup_stays_inside_the_prefix(
    s3_backend: Backend, s3_bucket: str, s3_client: S3Client
) -> None:
    s3_client.create_multipart_upload(Bucket=s3_bucket, Key="elsewhere/k")
    s3_client.create_multipart_upload(Bucket=s3_bucket, Key=f"{S3_PREFIX}/k")
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert run(s3_backend.store.abort_stale_uploads(later)) == 1
    assert s3_backend.storage.uploads() == ["elsewhere/k"]


def test_presigned_url_downloads_with_the_content_disposition(s3_store: S3ObjectStore) -> None:
    data = payload(10_000)

    disposition = "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip"

    async def scenario() -> str:
        await s3_store.put_stream("dl/archive", chunks([data]))
        return await s3_store.presign("dl/archive", disposition=disposition, expires_in=60)

    assert s3_store.can_presign
    url = run(scenario())
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data
        assert response.headers["Content-Disposition"] == disposition


def test_missing_bucket_is_unavailable_not_a_missing_object(
    moto_endpoint: str, executor: ThreadPoolExecutor
) -> None:
    store = S3ObjectStore("no-such-bucket", executor=executor, endpoint_url=moto_endpoint)
    with pytest.raises(StorageUnavailable):
        run(store.ping())
    with pytest.raises(StorageError) as raised:
        run(store.get_range("k", 0, 1))
    assert not isinstance(raised.value, ObjectNotFound)


def test_dead_endpoint_fails_fast_as_unavailable(
    executor: ThreadPoolExecutor, closed_port: int
) -> None:
    store = unreachable(executor, f"http://127.0.0.1:{closed_port}")
    for operation in (store.ping(), store.head("k"), store.put_stream("k", chunks([b"x"]))):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            run(operation)
        assert time.monotonic() - started < 8


def test_hung_endpoint_times_out_as_unavailable(
    executor: ThreadPoolExecutor, silent_port: int
) -> None:
    store = unreachable(executor, f"http://127.0.0.1:{silent_port}")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        run(store.get_range("k", 0, 10))
    # Three attempts of one second each, plus backoff: about three times the read timeout.
    assert time.monotonic() - started < 10


def test_body_cut_short_raises_instead_of_ending(
    executor: ThreadPoolExecutor, truncating_port: int
) -> None:
    store = unreachable(executor, f"http://127.0.0.1:{truncating_port}")
    received: list[bytes] = []

    async def scenario() -> None:
        async for chunk in store.stream("k", chunk_size=16 * 1024):
            received.append(chunk)

    with pytest.raises(StorageUnavailable):
        run(scenario())
    assert 0 < sum(map(len, received)) <= 100_000


def test_a_body_that_stalls_mid_stream_times_out_at_the_deadline(
    executor: ThreadPoolExecutor, stalling_port: int
) -> None:
    # The read timeout alone would wait 4 s: the deadline cuts the read at 1 s.
    store = S3ObjectStore(
        "bucket",
        executor=executor,
        endpoint_url=f"http://127.0.0.1:{stalling_port}",
        read_timeout=4,
        deadline=1,
    )
    received: list[bytes] = []

    async def scenario() -> None:
        async for chunk in store.stream("k", chunk_size=64 * 1024):
            received.append(chunk)

    started = time.monotonic()
    with pytest.raises(StorageTimeout):
        run(scenario())
    assert time.monotonic() - started < 3
    assert sum(map(len, received)) == 64 * 1024


def test_a_stream_cancelled_during_a_stalled_read_ends_at_once(
    executor: ThreadPoolExecutor, stalling_port: int
) -> None:
    # A client gone mid-download: the handler's task is cancelled while a storage read is
    # blocked; the read is left to its thread (the body closes when it returns).
    store = S3ObjectStore(
        "bucket",
        executor=executor,
        endpoint_url=f"http://127.0.0.1:{stalling_port}",
        read_timeout=2,
    )

    async def scenario() -> float:
        first = asyncio.Event()

        async def download() -> None:
            async for _ in store.stream("k", chunk_size=64 * 1024):
                first.set()

        task = asyncio.create_task(download())
        await first.wait()
        await asyncio.sleep(0.2)  # the second read is blocked on the silent endpoint
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    assert run(scenario()) < 0.5


def test_client_is_configured_for_the_endpoint_and_pool(
    moto_endpoint: str, executor: ThreadPoolExecutor
) -> None:
    with ThreadPoolExecutor(max_workers=48) as wide:
        store = S3ObjectStore(
            "b", executor=wide, endpoint_url=moto_endpoint, connect_timeout=2, read_timeout=7
        )
        config: Any = store._client.meta.config  # the stubs do not list its attributes
    assert config.max_pool_connections == 48
    assert (config.connect_timeout, config.read_timeout) == (2, 7)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.s3 == {"addressing_style": "path"}
    assert config.signature_version == "s3v4"


def pieces(data: bytes) -> list[bytes]:
    return [data[at : at + MiB] for at in range(0, len(data), MiB)]


def concurrent_store(
    s3_backend: Backend, executor: ThreadPoolExecutor, parts: int
) -> S3ObjectStore:
    """The backend's bucket and prefix with `parts` part uploads at once."""
    store = s3(s3_backend)
    return S3ObjectStore(
        store.bucket,
        S3_PREFIX,
        executor=executor,
        endpoint_url=store._client.meta.endpoint_url,
        connect_timeout=2,
        read_timeout=10,
        part_concurrency=parts,
    )


async def uploaded_and_read_back(store: S3ObjectStore, key: str, data: bytes) -> bytes:
    """`data` put in parts of PART bytes, in pieces as a request body brings them, then read."""
    info = await store.put_stream(key, chunks(pieces(data)), part_size=PART)
    assert info.size == len(data)
    return await read_all(store.stream(key))


def test_parts_are_sent_several_at_once_and_land_in_order(
    s3_backend: Backend, executor: ThreadPoolExecutor
) -> None:
    store = concurrent_store(s3_backend, executor, parts=3)
    lock = threading.Lock()
    sending = [0]
    most = [0]

    def slow_part(**_: Any) -> None:
        with lock:
            sending[0] += 1
            most[0] = max(most[0], sending[0])
        time.sleep(0.3)
        with lock:
            sending[0] -= 1

    store._client.meta.events.register("before-send.s3.UploadPart", slow_part)
    data = payload(4 * PART + 123)

    assert run(uploaded_and_read_back(store, "parallel", data)) == data
    # Five parts, three at a time (the executor has four threads: the bound is ours).
    assert most[0] == 3


def test_an_upload_writes_its_parts_into_at_most_concurrency_plus_one_buffers(
    s3_backend: Backend, executor: ThreadPoolExecutor
) -> None:
    store = concurrent_store(s3_backend, executor, parts=2)
    bodies: list[Any] = []
    seen: dict[int, bytes] = {}

    def record(request: Any, **_: Any) -> None:
        # The part's own buffer, as botocore sends it, and what it held when it was sent.
        number = int(request.url.partition("partNumber=")[2].partition("&")[0])
        bodies.append(request.body)
        seen[number] = bytes(request.body)

    store._client.meta.events.register("before-send.s3.UploadPart", record)
    data = payload(7 * PART + 321)

    assert run(uploaded_and_read_back(store, "reused", data)) == data
    assert len(bodies) == 8
    # Landed parts' buffers took later parts: two in flight and one being filled, at most.
    assert len({id(body) for body in bodies}) <= 3
    # Each part was sent whole before its buffer was written again.
    assert b"".join(seen[number] for number in sorted(seen)) == data


def test_a_failed_part_s_buffer_is_never_written_again(
    s3_backend: Backend, executor: ThreadPoolExecutor
) -> None:
    store = concurrent_store(s3_backend, executor, parts=1)
    failed: list[Any] = []

    def refuse_the_first(request: Any, **_: Any) -> None:
        if "partNumber=1" in request.url:
            failed.append((request.body, bytes(request.body)))
            raise BotoConnectionClosedError(endpoint_url=request.url)

    store._client.meta.events.register("before-send.s3.UploadPart", refuse_the_first)
    data = payload(4 * PART)

    async def scenario() -> None:
        with pytest.raises(StorageUnavailable):
            await store.put_stream("refused", chunks(pieces(data)), part_size=PART)

    run(scenario())
    # botocore retried it (three attempts), each time the same bytes, kept after the failure.
    assert failed
    assert all(bytes(body) == sent == data[:PART] for body, sent in failed)


def test_a_full_window_of_parts_stops_reading_the_body(
    s3_backend: Backend, executor: ThreadPoolExecutor
) -> None:
    store = concurrent_store(s3_backend, executor, parts=2)
    release = threading.Event()

    def held(**_: Any) -> None:
        release.wait(10)

    store._client.meta.events.register("before-send.s3.UploadPart", held)
    read = [0]

    async def body() -> Any:
        for block in pieces(payload(8 * PART)):
            read[0] += len(block)
            yield block

    async def scenario() -> None:
        task = asyncio.create_task(store.put_stream("held", body(), part_size=PART))
        await asyncio.sleep(1.0)
        # Two parts in flight, the third filled and waiting, one chunk of the fourth read.
        assert read[0] <= 3 * PART + MiB
        release.set()
        info = await task
        assert info.size == 8 * PART

    run(scenario())


def test_a_part_that_fails_aborts_the_upload_and_stores_nothing(
    s3_backend: Backend, executor: ThreadPoolExecutor
) -> None:
    store = concurrent_store(s3_backend, executor, parts=3)

    def refuse_the_second(request: Any, **_: Any) -> None:
        if "partNumber=2" in request.url:
            raise BotoConnectionClosedError(endpoint_url=request.url)

    store._client.meta.events.register("before-send.s3.UploadPart", refuse_the_second)

    async def scenario() -> None:
        with pytest.raises(StorageUnavailable):
            await store.put_stream("broken", chunks(pieces(payload(4 * PART))), part_size=PART)
        await aborted(s3_backend)

    run(scenario())
    assert s3_backend.storage.uploads() == []
    assert s3_backend.storage.stored() == []
