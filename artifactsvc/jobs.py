"""Jobs: the state machine (cancel, retry, erase, play) and the reads behind the Jobs API.

Nothing here knows about HTTP. Rules follow GitLab's Ci::Build: what counts as cancelable,
retryable, erasable and playable, and what each transition changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from artifactsvc.auth import Access, hash_token
from artifactsvc.errors import BadRequest, InvalidJobState, JobNotFound, PipelineNotFound
from artifactsvc.metadata import JobQuery, MetadataStore, NewJob
from artifactsvc.models import Artifact, Job, Pipeline, utcnow

CANCELABLE = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled"}
)
COMPLETE = frozenset({"success", "failed", "canceled", "skipped"})
RETRYABLE = frozenset({"success", "failed", "canceled"})


def is_cancelable(job: Job) -> bool:
    return job.status in CANCELABLE


def is_retryable(job: Job) -> bool:
    return job.kind == "build" and job.status in RETRYABLE and not job.retried


def is_erasable(job: Job) -> bool:
    return (
        job.status in COMPLETE and job.erased_at is None and (job.has_trace or bool(job.artifacts))
    )


def is_playable(job: Job) -> bool:
    if job.when != "manual" or job.kind != "build":
        return False
    return job.status in ("manual", "scheduled") or is_retryable(job)


class ArtifactHooks(Protocol):
    """What jobs need from the artifact service (it lives in artifacts.py)."""

    async def erase_job_artifacts(self, job: Job) -> None: ...

    async def live(self, job: Job) -> list[Artifact]: ...


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    total: int | None


class JobService:
    def __init__(
        self,
        store: MetadataStore,
        *,
        artifacts: ArtifactHooks | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self._clock = clock

    # -- reads -------------------------------------------------------------------------------

    async def get(self, access: Access, job_id: int, *, kind: str = "build") -> Job:
        access.require_read_jobs()
        job = await self._store.job(access.project.id, job_id) if job_id < 2**63 else None
        if job is None or job.kind != kind:
            raise JobNotFound()
        return job

    async def list_jobs(self, access: Access, query: JobQuery, offset: int, limit: int) -> Page:
        access.require_read_jobs()
        if query.pipeline_id is not None:
            await self.pipeline(access, query.pipeline_id)
        jobs = await self._store.jobs(query, offset, limit)
        total = None if query.before_id is not None else await self._store.count_jobs(query)
        return Page(jobs, total)

    async def pipeline(self, access: Access, pipeline_id: int) -> Pipeline:
        access.require_read_pipelines()
        found = (
            await self._store.pipeline(access.project.id, pipeline_id)
            if pipeline_id < 2**63
            else None
        )
        if found is None:
            raise PipelineNotFound()
        return found

    async def pipelines(
        self, access: Access, offset: int, limit: int
    ) -> tuple[list[Pipeline], int]:
        access.require_read_pipelines()
        found = await self._store.pipelines(access.project.id, offset, limit)
        return found, await self._store.count_pipelines(access.project.id)

    async def live_artifacts(self, job: Job) -> list[Artifact]:
        """Artifacts every read endpoint may still show: unexpired, or locked as latest."""
        if self._artifacts is not None:
            return await self._artifacts.live(job)
        now = self._clock()
        return [artifact for artifact in job.artifacts if not artifact.expired(now)]

    async def downstream(self, bridge: Job) -> tuple[Pipeline, str] | None:
        """A bridge's downstream pipeline and its project's path, when both still exist."""
        if bridge.downstream_pipeline_id is None:
            return None
        pipeline = await self._store.pipeline_by_id(bridge.downstream_pipeline_id)
        if pipeline is None:
            return None
        project = await self._store.project(pipeline.project_id)
        return (pipeline, project.path_with_namespace) if project is not None else None

    async def trace(self, access: Access, job_id: int) -> bytes:
        job = await self.get(access, job_id)
        if job.erased_at is not None:
            return b""
        return await self._store.trace(job.id) or b""

    # -- transitions -------------------------------------------------------------------------

    async def cancel(self, access: Access, job_id: int) -> Job:
        job = await self.get(access, job_id)
        access.require_developer()
        if not is_cancelable(job):
            return job  # GitLab answers 201 with the job unchanged
        now = self._clock()
        await self._store.update_job(job.id, {"status": "canceled", "finished_at": now})
        return await self._reload(job)

    async def retry(self, access: Access, job_id: int) -> Job:
        job = await self.get(access, job_id)
        access.require_developer()
        if not is_retryable(job):
            raise InvalidJobState("Job is not retryable")
        return await self._clone(access, job)

    async def play(self, access: Access, job_id: int) -> Job:
        job = await self.get(access, job_id)
        access.require_developer()
        if not is_playable(job):
            raise BadRequest("Unplayable Job")
        if job.status in COMPLETE:
            return await self._clone(access, job)  # replaying a finished manual job retries it
        user = access.principal.user
        await self._store.update_job(
            job.id,
            {"status": "pending", "queued_at": self._clock(), "user_id": user.id if user else None},
        )
        return await self._reload(job)

    async def erase(self, access: Access, job_id: int) -> Job:
        job = await self.get(access, job_id)
        if not access.may_erase(job):
            raise InvalidJobState()
        if not is_erasable(job):
            raise InvalidJobState("Job is not erasable!")
        if self._artifacts is not None:
            await self._artifacts.erase_job_artifacts(job)
        await self._store.delete_trace(job.id)
        await self._store.update_job(job.id, {"erased_at": self._clock()})
        return await self._reload(job)

    async def _clone(self, access: Access, job: Job) -> Job:
        user = access.principal.user
        now = self._clock()
        new_id = await self._store.retry_job(
            job.id,
            NewJob(
                project_id=job.project_id,
                pipeline_id=job.pipeline_id,
                name=job.name,
                stage=job.stage,
                status="pending",
                when=job.when,
                allow_failure=job.allow_failure,
                user_id=user.id if user else job.user_id,
                tag_list=job.tag_list,
                # A new job gets a new token; nobody knows it until a runner picks the job.
                token_hash=hash_token(secrets.token_urlsafe(32)),
                created_at=now,
            ),
        )
        new_job = await self._store.job(job.project_id, new_id)
        if new_job is None:
            raise JobNotFound()
        return new_job

    async def _reload(self, job: Job) -> Job:
        fresh = await self._store.job(job.project_id, job.id)
        if fresh is None:
            raise JobNotFound()
        return fresh
