"""Artifacts: lookup (by job, by ref, for a runner), downloads, keep, delete and the
keep-latest lock. No HTTP here; uploads are in uploads.py, the expiry sweep in
housekeeping.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from artifactsvc.access import Access
from artifactsvc.auth import AuthService
from artifactsvc.errors import ArtifactNotFound, Forbidden, JobNotFound, MissingJobName
from artifactsvc.jobs import load_job
from artifactsvc.metadata import ArtifactStore, JobStore
from artifactsvc.models import DEVELOPER, MAINTAINER, Artifact, Job, JobView, utcnow
from artifactsvc.objects import ObjectStore
from artifactsvc.objects.port import Offload, PresignMethod
from artifactsvc.streams import ReadBudget

log = logging.getLogger("artifactsvc.artifacts")

RECENT_PIPELINES = 100  # how far `search_recent_successful_pipelines` looks back
DEFAULT_BUFFER_BUDGET = 64 << 20  # settings' DOWNLOAD_BUFFER_BUDGET


@dataclass(frozen=True)
class Download:
    """A stored object ready to be served: what its headers need, and the ways to its bytes
    (streamed through this service, or a presigned URL the client fetches itself)."""

    key: str
    etag: str
    size: int
    filename: str
    modified: datetime | None
    objects: ObjectStore = field(repr=False, compare=False)
    budget: ReadBudget = field(repr=False, compare=False)

    @classmethod
    def of(cls, artifact: Artifact, objects: ObjectStore, budget: ReadBudget) -> Download:
        return cls(
            artifact.object_key,
            artifact.etag,
            artifact.size,
            artifact.filename,
            artifact.created_at,
            objects,
            budget,
        )

    @property
    def can_presign(self) -> bool:
        return self.objects.can_presign

    async def presign(self, disposition: str, *, method: PresignMethod = "GET") -> str:
        """A time-limited URL of the object, for `method`, whose response carries
        `disposition`."""
        return await self.objects.presign(self.key, disposition=disposition, method=method)

    async def offload(self, disposition: str) -> Offload:
        """Where a proxy in front fetches the bytes itself (DOWNLOAD_MODE=accel)."""
        return await self.objects.offload(self.key, disposition=disposition)

    def chunks(self, start: int, length: int) -> AsyncIterator[bytes]:
        """`length` bytes from `start`, one ranged read pinned to the ETag, read ahead
        within the process's budget."""
        return self.budget.stream(
            lambda chunk: self.objects.stream(
                self.key, start, length, etag=self.etag, chunk_size=chunk
            )
        )


class ArtifactService:
    def __init__(
        self,
        store: ArtifactStore,
        jobs: JobStore,
        objects: ObjectStore,
        auth: AuthService,
        *,
        keep_latest: bool,
        budget: ReadBudget | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.budget = ReadBudget(DEFAULT_BUFFER_BUDGET) if budget is None else budget
        self._jobs = jobs
        self._objects = objects
        self._auth = auth
        self.keep_latest = keep_latest
        self._clock = clock

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
        latest = await self._store.latest_successful_pipeline_id(job.project_id, job.pipeline.ref)
        # A child pipeline's artifacts are kept with its parent's.
        return latest == (job.pipeline.parent_pipeline_id or job.pipeline_id)

    async def archive(self, job: Job) -> Artifact:
        """The job's live archive, or ArtifactNotFound."""
        for artifact in await self.live(job):
            if artifact.file_type == "archive":
                return artifact
        raise ArtifactNotFound()

    async def archive_for(self, access: Access, job_id: int) -> Artifact:
        """The live archive of a job of this project whose artifacts the caller may read
        (anonymous callers too, on public projects)."""
        access.require_read_artifacts()
        job = await load_job(self._jobs, access.project.id, job_id)
        return await self.readable_archive(access, job)

    async def readable_archive(self, access: Access, job: Job) -> Artifact:
        """The job's live archive, if its accessibility lets `access` download it."""
        artifact = await self.archive(job)
        await self.require_accessible(access, artifact)
        return artifact

    async def require_accessible(self, access: Access, artifact: Artifact) -> None:
        """GitLab's Ci::JobArtifactPolicy on `read_job_artifacts`: `public` for whoever reads
        the project's jobs, `private` for developers and up, `maintainer` for maintainers and
        up, `none` for nobody. A job token counts with its user's role (none outside its
        scope). A dependency's download by a running job is not asked: GitLab's runner
        route checks the job token alone."""
        if artifact.accessibility == "public":
            return
        if artifact.accessibility == "none":
            raise Forbidden()
        needed = MAINTAINER if artifact.accessibility == "maintainer" else DEVELOPER
        if access.level < needed:
            raise Forbidden()

    async def download(self, access: Access, job_id: int) -> Download:
        return self.download_of(await self.archive_for(access, job_id))

    def download_of(self, artifact: Artifact) -> Download:
        return Download.of(artifact, self._objects, self.budget)

    async def runner_download(self, caller: Job, job_id: int) -> Download:
        """A running job fetching the archive of a dependency (`job_id`), in its own project
        or one whose allowlist names the caller's."""
        target = await self._jobs.job_by_id(job_id)
        if target is None:
            raise JobNotFound()
        if not await self._auth.job_token_reaches(caller, target.project_id):
            raise Forbidden()
        return self.download_of(await self.archive(target))

    async def ref_archive(
        self, access: Access, ref: str, name: str | None, *, recent: bool
    ) -> Artifact:
        """The live archive of the job named `name` in the ref's latest successful pipeline
        (or, with `recent`, the newest of the recent successful ones that kept one)."""
        return await self.readable_archive(
            access, await self.ref_job(access, ref, name, recent=recent)
        )

    async def ref_job(self, access: Access, ref: str, name: str | None, *, recent: bool) -> Job:
        access.require_read_artifacts()
        if not name:
            raise MissingJobName()
        job = await self._store.ref_job(
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

    async def keep(self, access: Access, job_id: int) -> JobView:
        """Keeps the job's artifacts forever (GitLab's "Keep"); the job as it is now."""
        access.require_read_jobs()
        job = await load_job(self._jobs, access.project.id, job_id)
        access.require_developer()
        await self.archive(job)  # 404 without a live archive
        await self._store.set_artifacts_expiry(job.id, None)
        fresh = await load_job(self._jobs, access.project.id, job.id)
        return JobView(fresh, tuple(await self.live(fresh)))

    async def delete(self, access: Access, job_id: int) -> None:
        access.require_read_jobs()
        job = await load_job(self._jobs, access.project.id, job_id)
        access.require_maintainer()
        await self.erase_job_artifacts(job)

    async def erase_job_artifacts(self, job: Job) -> None:
        for artifact in await self._store.delete_artifacts(job.id):
            await delete_objects(self._objects, artifact.object_key, artifact.index_key)

    async def expire_project(self, access: Access) -> int:
        """Every unlocked artifact of the project expires now; returns how many."""
        access.require_maintainer()
        return await self._store.expire_project_artifacts(
            access.project.id, self._clock(), keep_latest=self.keep_latest
        )


async def delete_objects(objects: ObjectStore, *keys: str | None) -> bool:
    """Deletes what it can; False if some object stayed (its row is gone or never existed,
    so `gc` removes the orphan later)."""
    ok = True
    for key in keys:
        if key is None:
            continue
        try:
            await objects.delete(key)
        except Exception:
            log.warning("could not delete object %s; gc will retry", key, exc_info=True)
            ok = False
    return ok
