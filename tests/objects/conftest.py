"""Both object-store adapters built on real parts: a temporary directory, and moto over HTTP.

The moto fixtures (`moto_endpoint`, `s3_bucket`, `s3_client`) come from `tests.support.s3`
through the top-level conftest; `Backend.storage` looks behind the adapter (`stored`,
`uploads`) without going through it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from artifactsvc.objects import ObjectStore
from artifactsvc.objects.filesystem import FilesystemObjectStore
from artifactsvc.objects.s3 import S3ObjectStore
from tests.support.storage import Storage

S3_PREFIX = "pre/fix"


@dataclass
class Backend:
    """An adapter under test, and its store seen from behind (`storage.stored()`, ...)."""

    name: str
    store: ObjectStore
    storage: Storage


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="objects") as pool:
        yield pool


@pytest.fixture
def filesystem_backend(tmp_path: Path, executor: ThreadPoolExecutor) -> Backend:
    root = tmp_path / "objects"
    return Backend(
        "filesystem", FilesystemObjectStore(root, executor=executor), Storage.directory(root)
    )


@pytest.fixture
def s3_backend(moto_endpoint: str, s3_bucket: str, executor: ThreadPoolExecutor) -> Backend:
    store = S3ObjectStore(
        s3_bucket,
        S3_PREFIX,
        executor=executor,
        endpoint_url=moto_endpoint,
        connect_timeout=2,
        read_timeout=10,
    )
    return Backend("s3", store, Storage.s3(moto_endpoint, s3_bucket, S3_PREFIX))


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (in the kernel backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as sock:
        yield sock.getsockname()[1]
