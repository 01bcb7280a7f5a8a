"""The baselines that bypass the service: boto3 straight at the same SeaweedFS object.

`BotoRangeSource` is a ziprange `RangeSource` whose every call is one ranged GET, so wrapped
in `CountingSource` it counts requests. `naive_read` is what a reader without an index does
for one file: read the archive's tail to find the central directory, read and parse all of
it (as Go's archive/zip and Python's zipfile do), then read the member.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from artifactsvc.ziprange import (
    Entry,
    RangeSource,
    iter_entries,
    locate_central_directory,
    read_member,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client

CHUNK = 1 << 16
DOWNLOAD_CHUNK = 1 << 20


class BotoRangeSource:
    """One S3 object through boto3 ranged GETs: `read` and `stream` are one request each."""

    def __init__(self, client: S3Client, bucket: str, key: str, size: int) -> None:
        self._client = client
        self._bucket = bucket
        self._key = key
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def _clamp(self, start: int, length: int) -> tuple[int, int]:
        start = min(start, self._size)
        return start, min(length, self._size - start)

    def _get(self, start: int, length: int) -> StreamingBody:
        return self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{start + length - 1}"
        )["Body"]

    def read(self, start: int, length: int) -> bytes:
        start, length = self._clamp(start, length)
        if length == 0:
            return b""
        body = self._get(start, length)
        try:
            return body.read()
        finally:
            body.close()

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        start, length = self._clamp(start, length)
        if length == 0:
            return
        body = self._get(start, length)
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()


def naive_read(source: RangeSource, name: str) -> bytes:
    """One member, found by parsing the whole central directory: three ranged reads."""
    location = locate_central_directory(source)
    found: Entry | None = None
    chunks = source.stream(location.cd_offset, location.cd_size)
    for entry in iter_entries(chunks, location.entry_count):
        if found is None and entry.name == name:
            found = entry  # the first of a repeated name wins, as in the service
    if found is None:
        raise KeyError(name)
    return b"".join(read_member(source, found))


def direct_download(client: S3Client, bucket: str, key: str) -> tuple[int, float]:
    """The whole object with one boto3 get_object, streamed and discarded: (bytes, seconds)."""
    received = 0
    start = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        while chunk := body.read(DOWNLOAD_CHUNK):
            received += len(chunk)
    finally:
        body.close()
    return received, time.perf_counter() - start


def direct_upload(client: S3Client, bucket: str, key: str, path: Path) -> float:
    """boto3's `upload_file` of the same file, with its default concurrency: seconds."""
    start = time.perf_counter()
    client.upload_file(str(path), bucket, key)
    return time.perf_counter() - start
