"""Uploads: an artifact streamed into object storage, checked, indexed, then recorded.

An upload is streamed into object storage under a fresh key, checked (an `archive` must be a
zip whose central directory parses; its index is built and stored beside it), and only then
recorded in the metadata store. Any failure on the way deletes what was written, so a row
never points at a missing object and no object outlives a failed upload (gc sweeps the
rare leftover of a crash). No HTTP here.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from artifactsvc.artifacts import delete_objects
from artifactsvc.errors import (
    AlreadyUploaded,
    ArtifactFormatMismatch,
    ArtifactTooLarge,
    Conflict,
    CorruptArchive,
    InvalidArchive,
    UnknownArtifactFormat,
    UnknownArtifactType,
)
from artifactsvc.indexing import index_archive
from artifactsvc.metadata import ArtifactStore
from artifactsvc.models import Artifact, Job, utcnow
from artifactsvc.objects import ObjectStore

# GitLab's artifact types with their default file names and formats (Ci::JobArtifact).
FILE_TYPES: dict[str, tuple[str, str]] = {
    "archive": ("artifacts.zip", "zip"),
    "metadata": ("metadata.gz", "gzip"),
    "trace": ("job.log", "raw"),
    "junit": ("junit.xml.gz", "gzip"),
    "cobertura": ("cobertura-coverage.xml.gz", "gzip"),
    "codequality": ("gl-code-quality-report.json", "raw"),
    "sast": ("gl-sast-report.json", "raw"),
    "dependency_scanning": ("gl-dependency-scanning-report.json", "raw"),
    "container_scanning": ("gl-container-scanning-report.json", "raw"),
    "dast": ("gl-dast-report.json", "raw"),
    "secret_detection": ("gl-secret-detection-report.json", "raw"),
    "dotenv": (".env.gz", "gzip"),
    "metrics": ("metrics.txt.gz", "gzip"),
    "terraform": ("tfplan.json", "raw"),
    "cyclonedx": ("gl-sbom.cdx.json.gz", "gzip"),
    "annotations": ("gl-annotations.json.gz", "gzip"),
}
FORMATS = ("zip", "gzip", "raw")


@dataclass(frozen=True)
class Upload:
    file_type: str
    file_format: str
    expire_in: int | None  # seconds; None: never
    filename: str | None = None
    expire_at: datetime | None = None  # an absolute time (imports) wins over expire_in


def _check_types(upload: Upload) -> None:
    if upload.file_type not in FILE_TYPES:
        raise UnknownArtifactType()
    if upload.file_format not in FORMATS:
        raise UnknownArtifactFormat()
    if upload.file_format != FILE_TYPES[upload.file_type][1]:
        raise ArtifactFormatMismatch()


class UploadService:
    def __init__(
        self,
        store: ArtifactStore,
        objects: ObjectStore,
        *,
        executor: ThreadPoolExecutor,
        max_size: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._objects = objects
        self._executor = executor
        self.max_size = max_size
        self._clock = clock

    async def upload(
        self,
        job: Job,
        describe: Callable[[], Upload],
        chunks: AsyncIterator[bytes],
        *,
        type_known: bool = True,
    ) -> Artifact:
        """Stores an upload. `describe` is asked before and after the body (form fields may
        follow the file); the answer after the body is the one recorded. `type_known` False:
        the type may still arrive after the file, so the checks wait for the body."""
        if type_known:
            await self._check(job, describe())

        def checked() -> Upload:
            upload = describe()
            _check_types(upload)
            return upload

        artifact = await self.write_objects(job.project_id, job.id, checked, chunks)
        try:
            await self._store.insert_artifact(artifact)
        except BaseException as error:
            await delete_objects(self._objects, artifact.object_key, artifact.index_key)
            if isinstance(error, Conflict):
                raise AlreadyUploaded() from None
            raise
        return artifact

    async def write_objects(
        self,
        project_id: int,
        job_id: int,
        describe: Callable[[], Upload],
        chunks: AsyncIterator[bytes],
    ) -> Artifact:
        """Streams the object in, indexes an archive, and returns the row to record (not yet
        recorded). On any failure nothing is left in storage."""
        key = f"projects/{project_id}/jobs/{job_id}/{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        info = await self._objects.put_stream(key, self._limited(chunks, digest))
        index_key: str | None = None
        try:
            upload = describe()
            directory: bytes | None = None
            if upload.file_type == "archive":
                index_key = f"{key}.index"
                try:
                    built = await index_archive(self._objects, info, self._executor, index_key)
                except CorruptArchive as error:
                    # Damaged on arrival: the upload is unreadable (400), our store is fine.
                    raise InvalidArchive(f"damaged zip archive: {error}") from None
                directory = built.directory.to_bytes()
            now = self._clock()
            return Artifact(
                job_id=job_id,
                project_id=project_id,
                file_type=upload.file_type,
                file_format=upload.file_format,
                # The archive is always served as artifacts.zip (CONTRACT section 7).
                filename=(
                    FILE_TYPES["archive"][0]
                    if upload.file_type == "archive"
                    else upload.filename or FILE_TYPES[upload.file_type][0]
                ),
                size=info.size,
                object_key=key,
                etag=info.etag,
                sha256=digest.hexdigest(),
                expire_at=(
                    upload.expire_at
                    if upload.expire_at is not None
                    else now + timedelta(seconds=upload.expire_in)
                    if upload.expire_in
                    else None
                ),
                created_at=now,
                index_key=index_key,
                index_directory=directory,
            )
        except BaseException:
            await delete_objects(self._objects, key, index_key)
            raise

    async def _check(self, job: Job, upload: Upload) -> None:
        _check_types(upload)
        if any(a.file_type == upload.file_type for a in await self._store.artifacts_of(job.id)):
            raise AlreadyUploaded()

    async def _limited(
        self, chunks: AsyncIterator[bytes], digest: hashlib._Hash
    ) -> AsyncIterator[bytes]:
        """Counts while streaming: the limit holds even without a Content-Length."""
        total = 0
        async for chunk in chunks:
            total += len(chunk)
            if total > self.max_size:
                raise ArtifactTooLarge()
            digest.update(chunk)
            yield chunk

    async def discard(self, artifact: Artifact) -> bool:
        """Deletes an artifact's objects (its row is gone or was never written)."""
        return await delete_objects(self._objects, artifact.object_key, artifact.index_key)
