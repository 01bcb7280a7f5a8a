"""Artifacts: upload, lookup, keep, delete and expiry. No HTTP here.

An upload is streamed into object storage under a fresh key, checked (an `archive` must be a
zip whose central directory parses; its index is built and stored beside it), and only then
recorded in the metadata store. Any failure on the way deletes what was written, so a row
never points at a missing object and no object outlives a failed upload (gc sweeps the
rare leftover of a crash).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from artifactsvc.archives import index_archive
from artifactsvc.auth import Access
from artifactsvc.errors import (
    ArtifactNotFound,
    BadRequest,
    Conflict,
    CorruptArchive,
    InvalidArchive,
    PayloadTooLarge,
)
from artifactsvc.metadata import MetadataStore
from artifactsvc.models import Artifact, Job, utcnow
from artifactsvc.objects import ObjectStore

log = logging.getLogger("artifactsvc.artifacts")

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
RECENT_PIPELINES = 100  # how far `search_recent_successful_pipelines` looks back


@dataclass(frozen=True)
class Upload:
    file_type: str
    file_format: str
    expire_in: int | None  # seconds; None: never
    filename: str | None = None
    expire_at: datetime | None = None  # an absolute time (imports) wins over expire_in


def _check_types(upload: Upload) -> None:
    if upload.file_type not in FILE_TYPES:
        raise BadRequest("is invalid", field="artifact_type")
    if upload.file_format not in FORMATS:
        raise BadRequest("is invalid", field="artifact_format")
    if upload.file_format != FILE_TYPES[upload.file_type][1]:
        raise BadRequest("does not match artifact_type", field="artifact_format")


@dataclass(frozen=True)
class ExpireReport:
    deleted: int
    bytes: int
    failed: int


class ArtifactService:
    def __init__(
        self,
        store: MetadataStore,
        objects: ObjectStore,
        *,
        executor: ThreadPoolExecutor,
        max_size: int,
        keep_latest: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.objects = objects
        self.executor = executor
        self.max_size = max_size
        self.keep_latest = keep_latest
        self._clock = clock

    # -- upload ------------------------------------------------------------------------------

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
            await self.store.insert_artifact(artifact)
        except BaseException as error:
            await self._delete_objects(artifact.object_key, artifact.index_key)
            if isinstance(error, Conflict):
                raise BadRequest("Already uploaded") from None
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
        info = await self.objects.put_stream(key, self._limited(chunks, digest))
        index_key: str | None = None
        try:
            upload = describe()
            directory: bytes | None = None
            if upload.file_type == "archive":
                index_key = f"{key}.index"
                try:
                    built = await index_archive(self.objects, info, self.executor, index_key)
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
            await self._delete_objects(key, index_key)
            raise

    async def _check(self, job: Job, upload: Upload) -> None:
        _check_types(upload)
        if any(a.file_type == upload.file_type for a in await self.store.artifacts_of(job.id)):
            raise BadRequest("Already uploaded")

    async def _limited(
        self, chunks: AsyncIterator[bytes], digest: hashlib._Hash
    ) -> AsyncIterator[bytes]:
        """Counts while streaming: the limit holds even without a Content-Length."""
        total = 0
        async for chunk in chunks:
            total += len(chunk)
            if total > self.max_size:
                raise PayloadTooLarge()
            digest.update(chunk)
            yield chunk

    # -- reads -------------------------------------------------------------------------------

    async def live(self, job: Job) -> list[Artifact]:
        """Unexpired artifacts, plus expired ones kept by the keep-latest lock."""
        now = self._clock()
        live = [a for a in job.artifacts if not a.expired(now)]
        if len(live) < len(job.artifacts) and await self._locked(job):
            return list(job.artifacts)
        return live

    async def _locked(self, job: Job) -> bool:
        if not self.keep_latest or job.pipeline is None:
            return False
        latest = await self.store.latest_successful_pipeline_id(job.project_id, job.pipeline.ref)
        return latest == job.pipeline_id

    async def archive(self, job: Job) -> Artifact:
        """The job's live archive, or ArtifactNotFound."""
        for artifact in await self.live(job):
            if artifact.file_type == "archive":
                return artifact
        raise ArtifactNotFound()

    async def ref_job(self, access: Access, ref: str, name: str, *, recent: bool) -> Job:
        job = await self.store.ref_job(
            access.project.id,
            ref,
            name,
            recent=RECENT_PIPELINES if recent else None,
            now=self._clock(),
            keep_latest=self.keep_latest,
        )
        if job is None:
            raise ArtifactNotFound()
        return job

    # -- keep, delete, erase, expire ---------------------------------------------------------

    async def keep(self, job: Job) -> None:
        await self.archive(job)  # 404 without a live archive
        await self.store.set_artifacts_expiry(job.id, None)

    async def delete_job_artifacts(self, job: Job) -> None:
        for artifact in await self.store.delete_artifacts(job.id):
            await self._delete_objects(artifact.object_key, artifact.index_key)

    async def erase_job_artifacts(self, job: Job) -> None:
        await self.delete_job_artifacts(job)

    async def expire_project(self, project_id: int) -> int:
        return await self.store.expire_project_artifacts(
            project_id, self._clock(), keep_latest=self.keep_latest
        )

    async def expire(self, *, batch: int = 500) -> ExpireReport:
        """Deletes expired, unlocked artifacts: row first, then objects.

        Safe to run twice at once: a row is deleted by exactly one runner (the conditional
        DELETE), and only that runner deletes its objects.
        """
        deleted = size = failed = 0
        seen: set[tuple[int, str, str]] = set()
        while True:
            found = await self.store.expired_artifacts(
                self._clock(), keep_latest=self.keep_latest, limit=batch
            )
            fresh = [a for a in found if (a.job_id, a.file_type, a.object_key) not in seen]
            if not fresh:
                return ExpireReport(deleted, size, failed)
            for artifact in fresh:
                seen.add((artifact.job_id, artifact.file_type, artifact.object_key))
                if not await self.store.delete_artifact_row(artifact):
                    continue  # another runner took it
                if await self._delete_objects(artifact.object_key, artifact.index_key):
                    deleted += 1
                    size += artifact.size
                else:
                    failed += 1

    async def delete_objects(self, artifact: Artifact) -> bool:
        return await self._delete_objects(artifact.object_key, artifact.index_key)

    async def _delete_objects(self, *keys: str | None) -> bool:
        ok = True
        for key in keys:
            if key is None:
                continue
            try:
                await self.objects.delete(key)
            except Exception:
                # The row is gone or never existed; gc removes the orphan later.
                log.warning("could not delete object %s; gc will retry", key, exc_info=True)
                ok = False
        return ok

    async def gc(self, *, grace: timedelta = timedelta(hours=1)) -> tuple[int, int]:
        """Removes objects no row names (older than `grace`) and stale multipart uploads."""
        cutoff = self._clock() - grace
        orphans = 0
        pending: list[tuple[str, datetime]] = []

        async def flush() -> int:
            known = await self.store.known_object_keys([key for key, _ in pending])
            removed = 0
            for key, modified in pending:
                if key not in known and modified < cutoff:
                    await self.objects.delete(key)
                    removed += 1
            pending.clear()
            return removed

        async for info in self.objects.list("projects/"):
            pending.append((info.key, info.last_modified))
            if len(pending) >= 500:
                orphans += await flush()
        orphans += await flush()
        aborted = await self.objects.abort_stale_uploads(cutoff)
        return orphans, aborted
