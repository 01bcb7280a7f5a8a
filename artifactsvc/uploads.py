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

from artifactsvc.artifact_types import FILE_TYPES, FORMATS, check_type_and_format, stored_filename
from artifactsvc.artifacts import delete_objects
from artifactsvc.dotenv import DOTENV_SIZE_LIMIT, check_dotenv
from artifactsvc.errors import (
    AlreadyUploaded,
    ArtifactTooLarge,
    Conflict,
    CorruptArchive,
    InvalidArchive,
    InvalidDotenv,
)
from artifactsvc.indexing import BuildIndex, IndexLimits, build_here, index_archive
from artifactsvc.metadata import ArtifactStore
from artifactsvc.models import Artifact, Job, utcnow
from artifactsvc.objects import ObjectInfo, ObjectStore

__all__ = ["FILE_TYPES", "FORMATS", "Upload", "UploadService"]


@dataclass(frozen=True)
class Upload:
    file_type: str
    file_format: str
    expire_in: int | None  # seconds; None: never
    filename: str | None = None
    expire_at: datetime | None = None  # an absolute time (imports) wins over expire_in
    accessibility: str = "public"


def _check_types(upload: Upload) -> None:
    check_type_and_format(upload.file_type, upload.file_format)


class UploadService:
    def __init__(
        self,
        store: ArtifactStore,
        objects: ObjectStore,
        *,
        executor: ThreadPoolExecutor,
        max_size: int,
        clock: Callable[[], datetime] = utcnow,
        limits: IndexLimits = IndexLimits(),  # noqa: B008 (frozen)
        builder: BuildIndex = build_here,
    ) -> None:
        self._store = store
        self._objects = objects
        self._executor = executor
        self._limits = limits
        self._builder = builder
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
        the type may still arrive after the file, so the checks wait for the body.

        A job has one artifact per type. As GitLab's CreateService
        (`sha256_matches_existing_artifact?`), an upload whose bytes are those of the stored
        one succeeds without storing anything (a runner re-sends after a lost response or a
        proxy's 5xx); other bytes are AlreadyUploaded."""
        if type_known:
            upload = describe()
            _check_types(upload)
            existing = await self._existing(job.id, upload.file_type)
            if existing is not None:
                # Decided by the bytes' digest alone: hash the body, store none of it.
                digest = hashlib.sha256()
                async for _ in self._limited(chunks, digest):
                    pass
                return _same_or_refused(existing, digest.hexdigest())

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
                # Another upload of this type got there first (a retry racing the original,
                # or a type named only after the body): the same rule decides.
                existing = await self._existing(job.id, artifact.file_type)
                if existing is None:
                    raise AlreadyUploaded() from None
                return _same_or_refused(existing, artifact.sha256)
            raise
        return artifact

    async def _existing(self, job_id: int, file_type: str) -> Artifact | None:
        for artifact in await self._store.artifacts_of(job_id):
            if artifact.file_type == file_type:
                return artifact
        return None

    async def write_objects(
        self,
        project_id: int,
        job_id: int,
        describe: Callable[[], Upload],
        chunks: AsyncIterator[bytes],
    ) -> Artifact:
        """Streams the object in, indexes an archive (or validates a dotenv report), and
        returns the row to record (not yet recorded). On any failure nothing is left in
        storage."""
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
                    built = await index_archive(
                        self._objects,
                        info,
                        self._executor,
                        index_key,
                        limits=self._limits,
                        builder=self._builder,
                    )
                except CorruptArchive as error:
                    # Damaged on arrival: the upload is unreadable (400), our store is fine.
                    raise InvalidArchive(f"damaged zip archive: {error}") from None
                directory = built.directory.to_bytes()
            elif upload.file_type == "dotenv":
                await self._check_dotenv(info)
            now = self._clock()
            return Artifact(
                job_id=job_id,
                project_id=project_id,
                file_type=upload.file_type,
                file_format=upload.file_format,
                filename=stored_filename(upload.filename, upload.file_type),
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
                accessibility=upload.accessibility,
            )
        except BaseException:
            await delete_objects(self._objects, key, index_key)
            raise

    async def _check_dotenv(self, info: ObjectInfo) -> None:
        """GitLab's ParseDotenvArtifactService, before the row exists: the stored (gzip)
        size first, then every line. Small by then, so it is read back whole."""
        if info.size >= DOTENV_SIZE_LIMIT:
            raise InvalidDotenv(
                f"Dotenv Artifact Too Big. Maximum Allowable Size: {DOTENV_SIZE_LIMIT}"
            )
        check_dotenv(await self._objects.get_range(info.key, 0, info.size, etag=info.etag))

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


def _same_or_refused(existing: Artifact, sha256: str | None) -> Artifact:
    if existing.sha256 is not None and existing.sha256 == sha256:
        return existing
    raise AlreadyUploaded()
