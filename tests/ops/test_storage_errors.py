"""Storage errors that strike after a call has returned, while its stream or listing is read
(a download cut midway, gc's listing broken), are counted in artifactsvc_storage_errors_total
like those of awaited calls; a stream read to its end, or closed early, is no error."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from artifactsvc.errors import StorageError
from artifactsvc.metrics import Metrics
from artifactsvc.objects import open_object_store
from artifactsvc.objects.instrumented import InstrumentedObjectStore
from tests.support.faults import fault_proxy
from tests.support.s3 import create_bucket
from tests.support.storage import Storage
from tests.support.streams import payload, read_all, run

SIZE = 2 << 20


def storage_errors(metrics: Metrics) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["verb"], sample.labels["error"]): sample.value
        for family in text_string_to_metric_families(metrics.render())
        for sample in family.samples
        if sample.name == "artifactsvc_storage_errors_total"
    }


def test_errors_while_a_stream_or_a_list_is_read_are_counted_by_verb(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # this process's values
    bucket = create_bucket(moto_endpoint)
    Storage.s3(moto_endpoint, bucket).put("big", payload(SIZE))
    metrics = Metrics()
    with fault_proxy(moto_endpoint) as proxy, ThreadPoolExecutor(4) as executor:
        # Short timeouts: a broken read fails within a second or two, not botocore's 3 x 30 s.
        adapter = open_object_store(
            f"s3://{bucket}",
            endpoint_url=proxy.url,
            connect_timeout=1,
            read_timeout=1,
            deadline=2,
            executor=executor,
        )
        store = InstrumentedObjectStore(
            adapter, metrics.storage_request, count_error=metrics.storage_error
        )

        async def healthy() -> None:
            assert len(await read_all(store.stream("big"))) == SIZE
            assert [info.key async for info in store.list()] == ["big"]
            early = store.stream("big", chunk_size=1024)
            await anext(early)
            await early.aclose()  # type: ignore[attr-defined]  # its reader left: no error

        run(healthy())
        assert storage_errors(metrics) == {}

        # The answer stops 256 KiB in: the GET has returned, its body breaks while read.
        proxy.fail("hang", after=256 << 10)

        async def cut() -> int:
            received = 0
            with pytest.raises(StorageError):
                async for chunk in store.stream("big", chunk_size=64 << 10):
                    received += len(chunk)
            return received

        assert 0 < run(cut()) < SIZE
        proxy.fail("hang", after=100)

        async def listing() -> None:
            with pytest.raises(StorageError):
                [info async for info in store.list()]

        run(listing())

    errors = storage_errors(metrics)
    assert {verb for verb, _ in errors} == {"get", "list"}, errors
    assert sum(count for (verb, _), count in errors.items() if verb == "get") == 1
    assert sum(count for (verb, _), count in errors.items() if verb == "list") == 1
