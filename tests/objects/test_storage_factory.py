"""`open_object_store`: one setting chooses the adapter and where its keys live."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from artifactsvc.errors import ConfigError
from artifactsvc.objects import ObjectStore, open_object_store
from artifactsvc.objects.filesystem import FilesystemObjectStore
from artifactsvc.objects.s3 import S3ObjectStore
from tests.support.streams import chunks, run

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


def open_store(
    url: str, executor: ThreadPoolExecutor, endpoint_url: str | None = None
) -> ObjectStore:
    return open_object_store(
        url, endpoint_url=endpoint_url, connect_timeout=2, read_timeout=5, executor=executor
    )


def test_relative_path_is_a_directory_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: ThreadPoolExecutor
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("var/objects", executor)
    assert isinstance(store, FilesystemObjectStore)
    monkeypatch.chdir("/")
    run(store.put_stream("k", chunks([b"x"])))
    assert (tmp_path / "var/objects/k").read_bytes() == b"x"


def test_file_url_is_an_absolute_directory(tmp_path: Path, executor: ThreadPoolExecutor) -> None:
    store = open_store(f"file://{tmp_path}/my%20objects", executor)
    run(store.put_stream("k", chunks([b"x"])))
    assert (tmp_path / "my objects/k").read_bytes() == b"x"


def test_s3_url_puts_keys_under_its_prefix(
    moto_endpoint: str, s3_bucket: str, s3_client: S3Client, executor: ThreadPoolExecutor
) -> None:
    store = open_store(f"s3://{s3_bucket}/ci/artifacts/", executor, moto_endpoint)
    assert isinstance(store, S3ObjectStore)
    run(store.put_stream("k", chunks([b"x"])))
    listing = s3_client.list_objects_v2(Bucket=s3_bucket)
    assert [found["Key"] for found in listing.get("Contents", [])] == ["ci/artifacts/k"]


@pytest.mark.parametrize(
    "url",
    ["", "s3://", "s3:///prefix", "s3://b/a//b", "gs://b", "file://host/x", "file://", "s3://b?x"],
)
def test_unusable_urls_are_configuration_errors(url: str, executor: ThreadPoolExecutor) -> None:
    with pytest.raises(ConfigError):
        open_store(url, executor)
