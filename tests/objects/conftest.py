"""Both object-store adapters built on real parts: a temporary directory, and moto over HTTP.

The moto fixtures (`moto_endpoint`, `s3_bucket`, `s3_client`) come from `tests/s3server.py`
through the top-level conftest.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from artifactsvc.objects.filesystem import TEMP_PREFIX, FilesystemObjectStore
from artifactsvc.objects.s3 import S3ObjectStore

from .support import S3_PREFIX, Backend

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="objects") as pool:
        yield pool


@pytest.fixture
def filesystem_backend(tmp_path: Path, executor: ThreadPoolExecutor) -> Backend:
    root = tmp_path / "objects"
    store = FilesystemObjectStore(root, executor=executor)

    def stored() -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def uploads() -> list[str]:
        return [name for name in stored() if name.rpartition("/")[2].startswith(TEMP_PREFIX)]

    return Backend("filesystem", store, stored, uploads)


@pytest.fixture
def s3_backend(
    moto_endpoint: str, s3_bucket: str, s3_client: S3Client, executor: ThreadPoolExecutor
) -> Backend:
    store = S3ObjectStore(
        s3_bucket,
        S3_PREFIX,
        executor=executor,
        endpoint_url=moto_endpoint,
        connect_timeout=2,
        read_timeout=10,
    )

    def stored() -> list[str]:
        listing = s3_client.list_objects_v2(Bucket=s3_bucket)
        return sorted(found["Key"] for found in listing.get("Contents", []))

    def uploads() -> list[str]:
        listing = s3_client.list_multipart_uploads(Bucket=s3_bucket)
        return sorted(upload["Key"] for upload in listing.get("Uploads", []))

    return Backend("s3", store, stored, uploads)


@pytest.fixture(params=["filesystem", "s3"])
def backend(request: pytest.FixtureRequest) -> Backend:
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found
