"""Object storage down, hung, or failing mid-body (CONTRACT sections 6 and 7), on S3.

A store that refuses or never answers gets a quick 503, never a hang; a store that breaks off
mid-body aborts the client's connection, so a truncated archive never looks complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import httpx2
import pytest

from tests.artifacts.world import P1, ROOT, token
from tests.support.faults import fault_proxy
from tests.support.processes import free_port
from tests.support.service import Service
from tests.support.storage import Storage
from tests.support.wire import black_hole
from tests.support.zips import MiB, sample_zip, sized_zip

UNAVAILABLE = {"message": "503 Service Unavailable"}
# 3 attempts of 1 s each plus botocore's backoff between them (at most 1 + 2 s).
QUICK = 7.0

pytestmark = pytest.mark.parametrize("storage_url", ["s3"], indirect=True)


@contextmanager
def closed_port() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"


READS = [
    (f"{P1}/jobs/100/artifacts", ROOT),
    (f"{P1}/jobs/artifacts/master/download?job=build", ROOT),
    ("/api/v4/jobs/100/artifacts", token(101)),
]


@pytest.mark.parametrize(
    ("dead_store", "reads"),
    [(closed_port, READS), (black_hole, READS[:1])],
    ids=["refused", "hung"],
)
def test_downloads_answer_503_quickly_when_storage_is_down(
    make_service: Callable[..., Service],
    storage_url: Storage,
    dead_store: Callable[[], AbstractContextManager[str]],
    reads: list[tuple[str, dict[str, str]]],
) -> None:
    working = make_service()
    data = sample_zip(seed=41)
    assert working.upload(100, data).status_code == 201
    working.finish(100)
    with dead_store() as endpoint:
        down = Storage("s3", storage_url.url, endpoint_url=endpoint, bucket=storage_url.bucket)
        service = make_service(
            storage=down, seed=False, s3_connect_timeout=1.0, s3_read_timeout=1.0
        )
        for path, headers in reads:
            started = time.monotonic()
            response = service.client.get(path, headers=headers)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, path
            assert response.json() == UNAVAILABLE
            assert elapsed < QUICK, f"{path} took {elapsed:.1f}s"
        started = time.monotonic()
        ready = service.client.get("/-/readiness")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"] == "failed"
        assert time.monotonic() - started < QUICK
        assert service.client.get("/-/liveness").status_code == 200
    # Nothing was lost: with the store back, the same archive is served.
    assert working.download(100).content == data


def test_upload_with_storage_down_is_503_and_records_nothing(
    make_service: Callable[..., Service], storage_url: Storage
) -> None:
    with closed_port() as endpoint:
        down = Storage("s3", storage_url.url, endpoint_url=endpoint, bucket=storage_url.bucket)
        service = make_service(storage=down, s3_connect_timeout=1.0, s3_read_timeout=1.0)
        started = time.monotonic()
        response = service.upload(100, sample_zip(seed=42))
        assert response.status_code == 503
        assert response.json() == UNAVAILABLE
        assert time.monotonic() - started < QUICK
        assert service.rows() == []
    assert storage_url.stored() == []


def test_storage_failure_mid_stream_aborts_the_connection(
    make_service: Callable[..., Service], storage_url: Storage
) -> None:
    """A proxy in front of moto cuts the storage's answer after 6.5 MiB: the client must see
    a broken connection, never a 200 that ends early and looks complete. (A lone stream
    reads at most 5 MiB past what it sent: 4 chunks of 1 MiB queued, 1 in flight; so by then
    its answer has started. A cut within that may come before the answer starts: a 503.)"""
    data = sized_zip(8 * MiB, seed=43)
    assert make_service().upload(100, data).status_code == 201
    assert storage_url.endpoint_url is not None
    with fault_proxy(storage_url.endpoint_url) as proxy:
        proxy.fail("reset", after=6656 * 1024, answers_only=True)
        flaky = Storage("s3", storage_url.url, endpoint_url=proxy.url, bucket=storage_url.bucket)
        service = make_service(storage=flaky, seed=False, real=True)
        received = bytearray()
        with (
            pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)),
            service.client.stream("GET", f"{P1}/jobs/100/artifacts", headers=ROOT) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-length"] == str(len(data))
            for chunk in response.iter_raw():
                received += chunk
        assert proxy.cuts == 1
        assert 0 < len(received) < len(data)
        assert bytes(received) == data[: len(received)]
        assert service.client.get("/-/liveness", timeout=5).status_code == 200
