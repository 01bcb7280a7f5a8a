"""A real S3 endpoint for tests: moto's server on a free loopback port, one per session.

Registered as a plugin by the top-level conftest (`pytest_plugins`), so any test may ask:

    def test_something(moto_endpoint: str, s3_bucket: str) -> None: ...

`moto_endpoint` also points the standard `AWS_*` variables at fake credentials (and away
from any real profile) for the session, so code that lets boto3 find its own credentials,
as the service does, talks to moto and never to AWS.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from moto.server import ThreadedMotoServer

from tests.support.storage import MOTO_ENV, s3_client_for

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL")


def start_moto() -> tuple[str, Callable[[], None]]:
    """Start moto on 127.0.0.1 with a kernel-chosen port; return its URL and a stop function."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}", server.stop


def create_bucket(endpoint_url: str) -> str:
    """Create a bucket with a fresh name, so tests never see each other's objects."""
    name = f"test-{uuid.uuid4().hex}"
    s3_client_for(endpoint_url).create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in MOTO_ENV.items():
            env.setenv(name, value)
        for name in _UNSET:
            env.delenv(name, raising=False)
        endpoint_url, stop = start_moto()
        try:
            yield endpoint_url
        finally:
            stop()


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> S3Client:
    return s3_client_for(moto_endpoint)


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> str:
    return create_bucket(moto_endpoint)
