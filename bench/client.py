"""What clients do to the service, over HTTP: upload as a runner, download, read one file.

Uploads stream a file from disk in a multipart body built here (so it is plainly never held
in memory, and its Content-Length is exact); downloads are consumed and discarded.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import urllib3

from bench.naive import DOWNLOAD_CHUNK
from bench.world import ADMIN_TOKEN, PROJECT, job_token

CHUNK = 1 << 20
TIMEOUT = httpx.Timeout(600.0, connect=10.0)


def http_client() -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, headers={"PRIVATE-TOKEN": ADMIN_TOKEN})


def upload_archive(http: httpx.Client, base_url: str, job_id: int, path: Path) -> dict[str, Any]:
    """POST /jobs/:id/artifacts with the file streamed from disk; returns the 201 body."""
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="expire_in"\r\n\r\n'
        "never\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="artifacts.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as archive:
            while chunk := archive.read(CHUNK):
                yield chunk
        yield tail

    response = http.post(
        f"{base_url}/api/v4/jobs/{job_id}/artifacts",
        content=body(),
        headers={
            "JOB-TOKEN": job_token(job_id),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        },
    )
    if response.status_code != 201:
        raise RuntimeError(f"upload of {path.name} failed: {response.status_code} {response.text}")
    found: dict[str, Any] = response.json()
    return found


def download_archive(http: httpx.Client, base_url: str, job_id: int) -> tuple[int, float]:
    """GET the job's archive, discarding it; returns (bytes, seconds)."""
    return timed_get(http, f"{base_url}/api/v4/projects/{PROJECT}/jobs/{job_id}/artifacts")


def timed_get(http: httpx.Client, url: str) -> tuple[int, float]:
    """GET `url`, discarding the body; returns (bytes, seconds)."""
    received = 0
    start = time.perf_counter()
    with http.stream("GET", url) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            received += len(chunk)
    return received, time.perf_counter() - start


def urllib3_download(pool: urllib3.PoolManager, base_url: str, job_id: int) -> tuple[int, float]:
    """GET the job's archive with urllib3, the transport boto3 itself reads S3 with, in reads
    of the size the direct baseline reads (bench/naive.py): (bytes, seconds). The throughput
    figure compares the service against that baseline, so both sides are read by the same
    client code; httpx costs nearly twice urllib3's CPU per GB, which is the client's cost,
    not the service's."""
    url = f"{base_url}/api/v4/projects/{PROJECT}/jobs/{job_id}/artifacts"
    received = 0
    start = time.perf_counter()
    response = pool.request(
        "GET", url, headers={"PRIVATE-TOKEN": ADMIN_TOKEN}, preload_content=False
    )
    try:
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status}")
        while chunk := response.read(DOWNLOAD_CHUNK):
            received += len(chunk)
    finally:
        response.release_conn()
    return received, time.perf_counter() - start


def file_url(base_url: str, job_id: int, name: str) -> str:
    return f"{base_url}/api/v4/projects/{PROJECT}/jobs/{job_id}/artifacts/{quote(name)}"


def read_file(http: httpx.Client, url: str) -> bytes:
    response = http.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:200]}")
    return response.content
