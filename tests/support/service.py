"""The service as its clients call it: the runner's upload and finish, and `Service`, the real
app over a seeded database and a storage with the calls the artifact tests make."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from artifactsvc.settings import Settings
from tests.support.apps import import_document
from tests.support.database import Row, artifact_rows
from tests.support.documents import job_token
from tests.support.processes import ServerProcess
from tests.support.storage import Storage
from tests.support.wire import MULTIPART, multipart, multipart_stream


def upload(
    client: httpx2.Client,
    job_id: int,
    data: bytes,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
    filename: str = "artifacts.zip",
    chunked: bool = False,
) -> httpx2.Response:
    """POST /jobs/:id/artifacts as the runner does, with the job's token unless `headers`.

    `chunked`: sent as a stream of 64 KiB pieces (no Content-Length), so fields after the
    file reach the server only after the file's bytes, as on a real connection."""
    body: bytes | Iterator[bytes] = multipart(data, before=before, after=after, filename=filename)
    if chunked:
        pieces = (data[at : at + 65536] for at in range(0, len(data), 65536))
        body = multipart_stream(pieces, before=before, after=after, filename=filename)
    if headers is None:
        headers = {"JOB-TOKEN": job_token(job_id)}
    return client.post(
        f"/api/v4/jobs/{job_id}/artifacts",
        params=params,
        content=body,
        headers={"Content-Type": MULTIPART, **headers},
    )


def upload_archive(client: httpx2.Client, job_id: int, data: bytes) -> dict[str, Any]:
    """`upload` kept forever (`expire_in=never`); asserts 201 and returns the job's JSON."""
    response = upload(client, job_id, data, after={"expire_in": "never"})
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def finish(client: httpx2.Client, job_id: int, state: str = "success") -> None:
    """PUT /jobs/:id as the runner does at the end of a job (so by-ref routes find it)."""
    response = client.put(
        f"/api/v4/jobs/{job_id}", json={"token": job_token(job_id), "state": state}
    )
    assert response.status_code == 200, response.text


@dataclass
class Service:
    """The real app over a seeded database and a storage, behind an HTTP client (in this
    process, or a real `artifactsvc serve`: `server`), read as `admin` (a PRIVATE-TOKEN
    header)."""

    client: httpx2.Client
    settings: Settings
    storage: Storage
    directory: Path
    admin: dict[str, str]
    server: ServerProcess | None = None

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    def seed(self, document: dict[str, Any]) -> None:
        import_document(self.settings, document, self.directory)

    def upload(self, job_id: int, data: bytes, **options: Any) -> httpx2.Response:
        return upload(self.client, job_id, data, **options)

    def finish(self, job_id: int, state: str = "success") -> None:
        finish(self.client, job_id, state)

    def job(self, job_id: int, project_id: int = 1) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v4/projects/{project_id}/jobs/{job_id}", headers=self.admin
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def download(self, job_id: int, project_id: int = 1, **kwargs: Any) -> httpx2.Response:
        headers = {**self.admin, **kwargs.pop("headers", {})}
        return self.client.get(
            f"/api/v4/projects/{project_id}/jobs/{job_id}/artifacts", headers=headers, **kwargs
        )

    def rows(self) -> list[Row]:
        return artifact_rows(self.database_url)
