"""Helpers for the single-file tests: a counting ObjectStore, the world they seed, uploads
through the runner endpoint, raw requests on the wire, and a look at a server's memory."""

from __future__ import annotations

import http.client
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from artifactsvc.objects.port import DEFAULT_CHUNK_SIZE, DEFAULT_PART_SIZE, ObjectInfo, ObjectStore
from tests.worlds import job, pipeline, project, user

ROOT_TOKEN = "glpat-files-root"
ROOT = {"PRIVATE-TOKEN": ROOT_TOKEN}
READS = ("get_range", "stream")


def job_token(job_id: int) -> str:
    return f"files-job-token-{job_id}"


# -- a counting ObjectStore --------------------------------------------------------------------


@dataclass
class Call:
    verb: str
    key: str
    start: int = 0
    length: int | None = None
    bytes: int = 0  # bytes actually delivered (read) or sent (put)

    @property
    def end(self) -> int:
        return self.start + self.bytes


@dataclass
class CountingStore:
    """The real adapter behind the same Protocol, recording every call and its bytes."""

    inner: ObjectStore
    calls: list[Call] = field(default_factory=list)

    def reset(self) -> None:
        self.calls.clear()

    def reads(self, key: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.verb in READS and (key is None or c.key == key)]

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, part_size: int = DEFAULT_PART_SIZE
    ) -> ObjectInfo:
        call = Call("put", key)
        self.calls.append(call)

        async def counted() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                call.bytes += len(chunk)
                yield chunk

        return await self.inner.put_stream(key, counted(), part_size=part_size)

    async def head(self, key: str) -> ObjectInfo:
        self.calls.append(Call("head", key))
        return await self.inner.head(key)

    async def get_range(
        self, key: str, start: int, length: int, *, etag: str | None = None
    ) -> bytes:
        call = Call("get_range", key, start, length)
        self.calls.append(call)
        data = await self.inner.get_range(key, start, length, etag=etag)
        call.bytes = len(data)
        return data

    def stream(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        etag: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        call = Call("stream", key, start, length)
        self.calls.append(call)
        inner = self.inner.stream(key, start, length, etag=etag, chunk_size=chunk_size)

        async def counted() -> AsyncIterator[bytes]:
            try:
                async for chunk in inner:
                    call.bytes += len(chunk)
                    yield chunk
            finally:
                closer = getattr(inner, "aclose", None)
                if closer is not None:
                    await closer()

        return counted()

    async def delete(self, key: str) -> None:
        self.calls.append(Call("delete", key))
        await self.inner.delete(key)

    async def presign(self, key: str, *, filename: str, expires_in: int = 300) -> str | None:
        return await self.inner.presign(key, filename=filename, expires_in=expires_in)

    async def ping(self) -> None:
        await self.inner.ping()

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        self.calls.append(Call("list", prefix))
        return self.inner.list(prefix)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        return await self.inner.abort_stale_uploads(older_than)


# -- seeding and uploading ---------------------------------------------------------------------


def files_world(
    projects: list[dict[str, Any]],
    pipelines: list[dict[str, Any]],
    jobs: list[tuple[int, int, str]],
) -> dict[str, Any]:
    """Root, the given projects and pipelines, and running jobs (id, pipeline, name) with tokens."""
    return {
        "users": [user(1, "root", admin=True, tokens=(ROOT_TOKEN,))],
        "projects": projects,
        "pipelines": pipelines,
        "jobs": [
            job(job_id, pipeline_id, "running", name=name, token=job_token(job_id))
            for job_id, pipeline_id, name in jobs
        ],
    }


def one_project_world(job_ids: list[int]) -> dict[str, Any]:
    return files_world(
        [project(1, "files/one", "public")],
        [pipeline(6, 1)],
        [(job_id, 6, f"job-{job_id}") for job_id in job_ids],
    )


def upload(client: Any, job_id: int, data: bytes) -> dict[str, Any]:
    """POST /jobs/:id/artifacts as the runner does; asserts 201."""
    response = client.post(
        f"/api/v4/jobs/{job_id}/artifacts",
        headers={"JOB-TOKEN": job_token(job_id)},
        files={"file": ("artifacts.zip", data, "application/zip")},
        data={"expire_in": "never"},
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def succeed(client: Any, job_id: int) -> None:
    """PUT /jobs/:id state=success, so the by-ref routes find the job."""
    response = client.put(
        f"/api/v4/jobs/{job_id}", json={"token": job_token(job_id), "state": "success"}
    )
    assert response.status_code == 200, response.text


# -- the metadata database, behind the service's back --------------------------------------------


def execute(
    database_url: str, statement: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    """Run one statement (`?` placeholders) on SQLite or PostgreSQL; return any rows."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return list(conn.execute(statement, params).fetchall())
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(statement.replace("?", "%s"), params)
        return list(cursor.fetchall()) if cursor.description else []


def artifact_row(database_url: str, job_id: int) -> dict[str, Any]:
    columns = ("object_key", "etag", "size", "index_key", "index_directory")
    rows = execute(
        database_url,
        f"SELECT {', '.join(columns)} FROM artifacts WHERE job_id = ? AND file_type = 'archive'",
        (job_id,),
    )
    assert len(rows) == 1
    row = dict(zip(columns, rows[0], strict=True))
    if row["index_directory"] is not None:
        row["index_directory"] = bytes(row["index_directory"])
    return row


# -- the wire --------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    complete: bool  # the body arrived whole (Content-Length or chunked framing honoured)
    seconds: float


def raw_request(
    base: str,
    target: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> Reply:
    """Send `target` byte for byte (no client-side normalisation) and read the reply."""
    parts = urlsplit(base)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        complete = True
        try:
            body = response.read()
        except http.client.IncompleteRead as error:
            body, complete = error.partial, False
        except (ConnectionResetError, http.client.HTTPException):
            body, complete = b"", False
        return Reply(response.status, response.headers, body, complete, time.monotonic() - started)


# -- a server's memory -----------------------------------------------------------------------------


def server_pid(base: str) -> int:
    """The pid of our own `artifactsvc serve` child listening on `base`'s port."""
    port = str(urlsplit(base).port)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:"))
        if (
            int(ppid) == os.getpid()
            and b"serve" in cmdline
            and f"ARTIFACTSVC_PORT={port}".encode() in environ
        ):
            return int(entry)
    raise LookupError(f"no artifactsvc child serving port {port}")


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak resident set size so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise LookupError("no VmHWM")
