"""The instrumented store: counts for /metrics, and every call told to an observer with the
bytes it really moved, without changing what the inner store does."""

from __future__ import annotations

from collections.abc import AsyncIterator

from artifactsvc.objects.instrumented import InstrumentedObjectStore
from tests.objects.conftest import Backend
from tests.support.storage import counting_store
from tests.support.streams import chunks, payload, read_all, run


def test_counts_by_verb_without_an_observer(backend: Backend) -> None:
    counted: list[str] = []
    store = InstrumentedObjectStore(backend.store, counted.append)

    async def go() -> None:
        await store.put_stream("k", chunks([b"abc"]))
        await store.head("k")
        await store.get_range("k", 0, 2)
        assert await read_all(store.stream("k")) == b"abc"
        assert [info.key async for info in store.list()] == ["k"]
        await store.delete("k")

    run(go())
    assert counted == ["put", "head", "get", "get", "list", "delete"]


def test_observer_sees_each_call_with_the_bytes_moved(backend: Backend) -> None:
    data = payload(300_000, 1)
    store, log = counting_store(backend.store)

    async def go() -> None:
        await store.put_stream("k", chunks([data[:1000], data[1000:]]))
        await store.head("k")
        assert await store.get_range("k", 299_990, 100) == data[299_990:]
        assert await read_all(store.stream("k", 10, 5000, chunk_size=1024)) == data[10:5010]
        [info async for info in store.list("k")]
        await store.delete("k")

    run(go())
    found = [(c.verb, c.key, c.start, c.length, c.bytes) for c in log.calls]
    assert found == [
        ("put_stream", "k", 0, None, 300_000),
        ("head", "k", 0, None, 0),
        ("get_range", "k", 299_990, 100, 10),  # clamped at the end: 10 delivered
        ("stream", "k", 10, 5000, 5000),
        ("list", "k", 0, None, 0),
        ("delete", "k", 0, None, 0),
    ]
    assert log.calls[3].end == 5010
    assert [c.verb for c in log.reads()] == ["get_range", "stream"]


def test_closing_a_counted_stream_early_closes_the_inner_one(backend: Backend) -> None:
    store, log = counting_store(backend.store)

    async def go() -> None:
        await store.put_stream("k", chunks([payload(64 * 1024)]))
        stream = store.stream("k", chunk_size=1024)
        first = await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
        assert len(first) == 1024
        assert await store.get_range("k", 0, 4) == payload(4)  # the store is still usable

    run(go())
    assert log.reads()[0].bytes == 1024  # only what was delivered


def test_closing_closes_the_inner_iterator_itself() -> None:
    closed: list[bool] = []

    class Inner:
        def stream(self, *args: object, **kwargs: object) -> AsyncIterator[bytes]:
            async def body() -> AsyncIterator[bytes]:
                try:
                    yield b"one"
                    yield b"two"
                finally:
                    closed.append(True)

            return body()

    store, log = counting_store(Inner())  # type: ignore[arg-type]

    async def go() -> None:
        stream = store.stream("k")
        assert await stream.__anext__() == b"one"
        await stream.aclose()  # type: ignore[attr-defined]

    run(go())
    assert closed == [True]
    assert log.calls[0].bytes == 3
