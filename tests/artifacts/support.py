"""Real parts for the artifact suite: storages to look behind, the seeded world, zips, bodies.

`Storage` is one object store as the service is configured to use it (`env`, `settings`) plus a
look behind it that does not go through the service (`stored`, `uploads`), so a test can prove
that nothing was left behind. `Service` is the real app over a seeded database and a storage,
with the runner's and the users' calls a test needs.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import random
import sqlite3
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
from stream_zip import NO_COMPRESSION_64, ZIP_64, stream_zip

from artifactsvc import cli
from artifactsvc.settings import Settings
from tests.s3server import s3_client_for
from tests.worlds import job, pipeline, project, user

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MiB = 1024 * 1024
BOUNDARY = "artifactsvc-test-boundary-7d3f"
ROOT = {"PRIVATE-TOKEN": "root-token"}
MAINTAINER = {"PRIVATE-TOKEN": "maint-token"}
DEVELOPER = {"PRIVATE-TOKEN": "dev-token"}
REPORTER = {"PRIVATE-TOKEN": "reporter-token"}
P1 = "/api/v4/projects/1"

# -- the world every artifact test starts from ---------------------------------------------


def world() -> dict[str, Any]:
    """Project 1 (group/app) lets project 2's jobs read its artifacts; project 3 is a stranger.

    Jobs 100, 101, 110, 200 and 300 are running (their tokens work); 102 has finished.
    """
    return {
        "users": [
            user(1, "root", admin=True, tokens=("root-token",)),
            user(2, "maint", tokens=("maint-token",)),
            user(3, "dev", tokens=("dev-token",)),
            user(4, "reporter", tokens=("reporter-token",)),
        ],
        "projects": [
            project(1, "group/app", "private", {"maint": 40, "dev": 30, "reporter": 20},
                    ci_job_token_allowlist=[2]),
            project(2, "group/friend", "private"),
            project(3, "group/stranger", "private"),
        ],
        "pipelines": [
            pipeline(10, 1, ref="master"),
            pipeline(11, 1, ref="feature/x"),
            pipeline(20, 2),
            pipeline(30, 3),
        ],
        "jobs": [
            running(100, 10, "build", user="dev"),
            running(101, 10, "test"),
            job(102, 10, "success", name="lint", token="job-102"),
            running(110, 11, "build"),
            running(200, 20, "consumer"),
            running(300, 30, "stranger"),
        ],
    }  # fmt: skip


def running(job_id: int, pipeline_id: int, name: str, **extra: Any) -> dict[str, Any]:
    """A running build job whose token is `job-<id>`."""
    return job(job_id, pipeline_id, "running", name=name, token=f"job-{job_id}", **extra)


def token(job_id: int) -> dict[str, str]:
    return {"JOB-TOKEN": f"job-{job_id}"}


# -- archives ----------------------------------------------------------------------------


def make_zip(files: dict[str, bytes] | None = None, *, seed: int = 0) -> bytes:
    """A small zip (Deflate and Store members) whose bytes depend on `seed`."""
    rng = random.Random(seed)
    files = files or {
        "dist/app.js": b"console.log('hello');\n" * 200,
        "dist/blob.bin": rng.randbytes(64 * 1024),
        "README.md": f"seed {seed}\n".encode(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, (name, data) in enumerate(files.items()):
            method = zipfile.ZIP_STORED if index % 2 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
    return buffer.getvalue()


def sized_zip(size: int, *, seed: int = 0) -> bytes:
    """A zip of about `size` bytes: one stored member of incompressible bytes."""
    return make_zip({"data.bin": random.Random(seed).randbytes(max(0, size - 200))})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _random_chunks(size: int, seed: int, chunk: int = MiB) -> Iterator[bytes]:
    rng = random.Random(seed)
    left = size
    while left:
        step = min(chunk, left)
        yield rng.randbytes(step)
        left -= step


def large_zip(size: int) -> Iterator[bytes]:
    """A zip of a little over `size` bytes, generated as it is read (never held in memory).

    Mostly stored members of pseudo-random bytes (their CRCs computed in a first pass over
    the same deterministic generator), plus one deflated text member.
    """
    members = 4
    each = size // members
    modified = datetime(2024, 1, 2, 3, 4, 5)

    def crc(seed: int) -> int:
        value = 0
        for piece in _random_chunks(each, seed):
            value = zlib.crc32(piece, value)
        return value

    def files() -> Iterator[tuple[str, datetime, int, Any, Iterable[bytes]]]:
        yield ("logs/build.log", modified, 0o644, ZIP_64, [b"compiling...\n" * 50_000])
        for n in range(members):
            method = NO_COMPRESSION_64(each, crc(n))
            yield (f"bin/part-{n}.bin", modified, 0o644, method, _random_chunks(each, n))

    yield from stream_zip(files(), chunk_size=MiB)


# -- multipart bodies ----------------------------------------------------------------------


def _field(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def _file_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


def multipart(
    data: bytes,
    *,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
    filename: str = "artifacts.zip",
) -> bytes:
    """A form with `file`; `after` fields follow the file part (curl -F order)."""
    return b"".join(multipart_stream([data], before=before, after=after, filename=filename))


def multipart_stream(
    chunks: Iterable[bytes],
    *,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
    filename: str = "artifacts.zip",
) -> Iterator[bytes]:
    for name, value in (before or {}).items():
        yield _field(name, value)
    yield _file_head(filename)
    yield from chunks
    yield b"\r\n"
    for name, value in (after or {}).items():
        yield _field(name, value)
    yield f"--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


# -- storages ------------------------------------------------------------------------------


@dataclass
class Storage:
    """An object store the service is pointed at, and a direct look at what it holds."""

    kind: str  # "files" or "s3"
    url: str
    endpoint_url: str | None = None
    root: Path | None = None
    bucket: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    """Credentials of an S3 server other than moto (AWS_*), for a service process."""

    @property
    def env(self) -> dict[str, str]:
        env = {**self.extra_env, "ARTIFACTSVC_STORAGE_URL": self.url}
        if self.endpoint_url is not None:
            env["ARTIFACTSVC_S3_ENDPOINT_URL"] = self.endpoint_url
        return env

    @property
    def settings(self) -> dict[str, Any]:
        return {"storage_url": self.url, "s3_endpoint_url": self.endpoint_url}

    def _client(self) -> S3Client:
        assert self.endpoint_url is not None
        if "AWS_ACCESS_KEY_ID" not in self.extra_env:
            return s3_client_for(self.endpoint_url)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.extra_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.extra_env["AWS_SECRET_ACCESS_KEY"],
        )

    def stored(self) -> list[str]:
        """Every name the store holds: objects, and temporary files on a filesystem."""
        if self.root is not None:
            if not self.root.exists():
                return []
            return sorted(
                p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
            )
        listing = self._client().list_objects_v2(Bucket=self.bucket or "")
        return sorted(found["Key"] for found in listing.get("Contents", []))

    def uploads(self) -> list[str]:
        """Incomplete uploads: open multipart uploads, or temporary files."""
        if self.root is not None:
            return [key for key in self.stored() if key.rpartition("/")[2].startswith(".upload-")]
        listing = self._client().list_multipart_uploads(Bucket=self.bucket or "")
        return sorted(upload["Key"] for upload in listing.get("Uploads", []))

    def put(self, key: str, data: bytes) -> None:
        """Write an object behind the service's back (an orphan), under the service's prefix."""
        if self.root is not None:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        self._client().put_object(Bucket=self.bucket or "", Key=self.name(key), Body=data)

    def name(self, key: str) -> str:
        """Where the service stores `key`: the S3 prefix is part of the name in the bucket."""
        if self.root is not None:
            return key
        prefix = self.url.removeprefix(f"s3://{self.bucket}").strip("/")
        return f"{prefix}/{key}" if prefix else key

    def stale_upload(self, key: str) -> None:
        """Leave an incomplete upload of `key` behind, started long ago."""
        if self.root is not None:
            path = self.root / key
            temp = path.parent / f".upload-{uuid.uuid4().hex[:16]}"
            temp.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(b"partial")
            stamp = (datetime.now(UTC) - timedelta(days=2)).timestamp()
            os.utime(temp, (stamp, stamp))
            return
        # moto reports every multipart upload as initiated in 2010.
        self._client().create_multipart_upload(Bucket=self.bucket or "", Key=self.name(key))

    def backdate(self, key: str, age: timedelta) -> None:
        """Make `key` look `age` old to a lister."""
        then = datetime.now(UTC) - age
        if self.root is not None:
            stamp = then.timestamp()
            os.utime(self.root / key, (stamp, stamp))
            return
        # moto runs in this process (ThreadedMotoServer); S3 itself cannot set LastModified.
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[self.bucket or ""]
        bucket.keys[self.name(key)].last_modified = then.replace(tzinfo=None)


# -- the service ---------------------------------------------------------------------------


def artifact_rows(database_url: str) -> list[dict[str, Any]]:
    """Every artifact row, read straight from the database (not through the service)."""
    sql = "SELECT job_id, file_type, object_key, index_key, expire_at FROM artifacts"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql + " ORDER BY job_id, file_type")]
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return list(conn.execute(sql + " ORDER BY job_id, file_type").fetchall())


def import_file(settings: Settings, document: dict[str, Any], directory: Path) -> int:
    """`artifactsvc import` as the CLI runs it (artifact files included), in this process."""
    path = directory / f"import-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(document))
    code: int = asyncio.run(cli.import_file(settings, str(path)))
    return code


@dataclass
class Service:
    """The real app over a seeded database and a storage, behind an HTTP client."""

    client: httpx.Client
    settings: Settings
    storage: Storage
    database_url: str
    directory: Path

    def seed(self, document: dict[str, Any]) -> None:
        assert import_file(self.settings, document, self.directory) == 0

    def upload(
        self,
        job_id: int,
        data: bytes,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        before: dict[str, str] | None = None,
        after: dict[str, str] | None = None,
        filename: str = "artifacts.zip",
        chunked: bool = False,
    ) -> httpx.Response:
        """`chunked`: sent as a stream of 64 KiB pieces (no Content-Length), so fields after
        the file reach the server only after the file's bytes, as on a real connection."""
        body: bytes | Iterator[bytes] = multipart(
            data, before=before, after=after, filename=filename
        )
        if chunked:
            pieces = (data[at : at + 65536] for at in range(0, len(data), 65536))
            body = multipart_stream(pieces, before=before, after=after, filename=filename)
        return self.client.post(
            f"/api/v4/jobs/{job_id}/artifacts",
            params=params,
            content=body,
            headers={"Content-Type": MULTIPART, **(token(job_id) if headers is None else headers)},
        )

    def finish(self, job_id: int, state: str = "success") -> None:
        response = self.client.put(
            f"/api/v4/jobs/{job_id}", json={"token": f"job-{job_id}", "state": state}
        )
        assert response.status_code == 200, response.text

    def job(self, job_id: int, project_id: int = 1) -> dict[str, Any]:
        response = self.client.get(f"/api/v4/projects/{project_id}/jobs/{job_id}", headers=ROOT)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def download(self, job_id: int, project_id: int = 1, **kwargs: Any) -> httpx.Response:
        headers = {**ROOT, **kwargs.pop("headers", {})}
        return self.client.get(
            f"/api/v4/projects/{project_id}/jobs/{job_id}/artifacts", headers=headers, **kwargs
        )

    def rows(self) -> list[dict[str, Any]]:
        return artifact_rows(self.database_url)


def wait_for(check: Callable[[], bool], *, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.05)


def server_pid(port: int) -> int:
    """The pid of this test process's child serving on `port` (serve_process yields a URL)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent != me:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if f"ARTIFACTSVC_PORT={port}".encode() in environ:
            return int(entry.name)
    raise LookupError(f"no child process serves port {port}")


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the process's peak resident set size so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no VmHWM for {pid}")
