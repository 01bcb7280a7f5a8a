"""A 1,000,000-entry archive on SeaweedFS: upload, index and serve members in bounded memory.

The archive (tiny members, zip64 end records, ~120 MiB) is built with stream_zip into a temp
file and streamed to a real `artifactsvc serve` process through the runner endpoint; the
upload answers once the object is stored and indexed. The server's peak RSS (VmHWM) and the
upload+index time are printed.
"""

from __future__ import annotations

import http.client
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64

from artifactsvc.ziprange import IndexDirectory
from tests.files.world import ROOT, one_project_world
from tests.support.apps import import_document
from tests.support.database import artifact_row
from tests.support.documents import job_token
from tests.support.processes import peak_rss_bytes, server_process
from tests.support.seaweed import SeaweedS3
from tests.support.wire import raw_request
from tests.support.zips import stream_zip_chunks

COUNT = 1_000_000
PEAK_RSS_LIMIT_MIB = 256


def storage_gets(base: str) -> int:
    """The server's own count of object-storage GETs (`/metrics`)."""
    for line in raw_request(base, "/metrics").body.decode().splitlines():
        if line.startswith('artifactsvc_storage_requests_total{verb="get"}'):
            return int(float(line.split()[-1]))  # prometheus-client writes `12.0`
    return 0


def cold_and_cached_gets(database_url: str, names: list[str]) -> list[int]:
    """The GETs reading `names` in turn costs a fresh server: two (its index bucket, then the
    member) for a name whose bucket no earlier name shared, one (the member) after that.

    Buckets come from the stored index: the salt is random, so two names may share one."""
    row = artifact_row(database_url, 7)
    directory = IndexDirectory.from_bytes(row["index_directory"])
    seen: set[int] = set()
    gets = []
    for name in names:
        bucket = directory.bucket_of(name)
        gets.append(1 if bucket in seen else 2)
        seen.add(bucket)
    return gets


def members() -> Iterator[tuple[str, bytes, object]]:
    yield "zip64-first.txt", b"the first member is zip64", NO_COMPRESSION_64
    for i in range(COUNT - 1):
        yield f"d{i % 1000}/f{i}.txt", b"%d" % i, NO_COMPRESSION_32


def _multipart(path: Path, boundary: str) -> tuple[int, Iterator[bytes]]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="expire_in"\r\n\r\nnever\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="artifacts.zip"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                yield block
        yield tail

    return len(head) + path.stat().st_size + len(tail), body()


def upload_file(base: str, job_id: int, path: Path) -> int:
    boundary = uuid.uuid4().hex
    length, body = _multipart(path, boundary)
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=600)
    try:
        connection.request(
            "POST",
            f"/api/v4/jobs/{job_id}/artifacts",
            body=body,
            headers={
                "JOB-TOKEN": job_token(job_id),
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length),
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.slow
def test_million_entry_archive_uploads_indexes_and_serves_in_bounded_memory(
    seaweed: SeaweedS3, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "million.zip"
    started = time.perf_counter()
    with archive.open("wb") as out:
        for chunk in stream_zip_chunks(members()):
            out.write(chunk)
    built = time.perf_counter() - started
    database_url = f"sqlite:///{tmp_path}/meta.db"
    import_document(database_url, one_project_world([7]), tmp_path)
    env = {
        **seaweed.env,
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": f"s3://{seaweed.create_bucket()}/artifacts",
        "ARTIFACTSVC_MAX_ARTIFACT_SIZE": str(1 << 30),
    }

    with server_process(env, cwd=tmp_path) as server:
        base, pid = server.base_url, server.pid
        idle = peak_rss_bytes(pid)
        started = time.perf_counter()
        status = upload_file(base, 7, archive)
        uploaded = time.perf_counter() - started
        assert status == 201
        samples = {0: "zip64-first.txt", 1: "d0/f0.txt", 500_000: "d999/f499999.txt"}
        samples[COUNT - 1] = f"d{(COUNT - 2) % 1000}/f{COUNT - 2}.txt"
        reads = [*samples.values(), samples[500_000]]
        expected_gets = cold_and_cached_gets(database_url, reads)
        timings, gets = [], []
        for name in reads:
            before = storage_gets(base)
            started = time.perf_counter()
            reply = raw_request(base, f"/api/v4/projects/1/jobs/7/artifacts/{name}", headers=ROOT)
            timings.append(round((time.perf_counter() - started) * 1000, 1))
            gets.append(storage_gets(base) - before)
            expected = (
                b"the first member is zip64"
                if name == "zip64-first.txt"
                else (name.rsplit("f", 1)[1].removesuffix(".txt").encode())
            )
            assert (reply.status, reply.body, reply.complete) == (200, expected, True), name
        missing = raw_request(base, "/api/v4/projects/1/jobs/7/artifacts/d0/f1.txt")
        assert missing.status == 404  # f1 lives in d1
        after_reads = peak_rss_bytes(pid)
        started = time.perf_counter()
        # Listings walk a million entries: generous socket timeouts, for a loaded machine
        # (no time is asserted here; bench/ measures it).
        listing = raw_request(
            base, "/api/v4/projects/1/jobs/7/artifacts_tree?per_page=5", timeout=120
        )
        listed = time.perf_counter() - started
        assert listing.status == 200
        assert listing.headers["x-total"] == "1001"  # zip64-first.txt and d0..d999
        started = time.perf_counter()
        everything = raw_request(
            base, "/api/v4/projects/1/jobs/7/artifacts_tree?recursive=true&per_page=5", timeout=120
        )
        listed_all = time.perf_counter() - started
        assert everything.headers["x-total"] == str(COUNT + 1000)
        started = time.perf_counter()
        gitlab = raw_request(
            base, "/api/v4/projects/1/jobs/7/artifacts/tree?recursive=true&per_page=5", timeout=120
        )
        gitlab_listed = time.perf_counter() - started
        assert (gitlab.status, gitlab.headers["x-next-page"]) == (200, "2")
        assert "x-total" not in gitlab.headers  # GitLab counts no list of 10,000 or more
        peak = peak_rss_bytes(pid)

    directory_bytes = len(artifact_row(database_url, 7)["index_directory"])
    figures = {
        "entries": COUNT,
        "archive_mib": round(archive.stat().st_size / 2**20, 1),
        "build_archive_s": round(built, 1),
        "upload_and_index_s": round(uploaded, 1),
        "server_rss_idle_mib": round(idle / 2**20, 1),
        "server_peak_rss_after_reads_mib": round(after_reads / 2**20, 1),
        "root_listing_s": round(listed, 1),
        "recursive_listing_s": round(listed_all, 1),
        "gitlab_recursive_listing_s": round(gitlab_listed, 1),
        "server_peak_rss_mib": round(peak / 2**20, 1),
        "index_directory_row_bytes": directory_bytes,
        "member_read_ms": timings,
        "member_read_gets": gets,
    }
    with capsys.disabled():
        print("\n1M-entry archive on SeaweedFS", figures)
    assert peak < PEAK_RSS_LIMIT_MIB << 20
    assert peak - after_reads < 64 << 20  # listing a million entries holds a page, not all
    assert gets == expected_gets  # bucket + member; one GET once the bucket is cached
