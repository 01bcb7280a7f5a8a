"""Jobs: the state machine (cancel, retry, erase, play, and what a runner reports: its final
state and its log) and the reads behind the Jobs API.

Nothing here knows about HTTP. Rules follow GitLab's Ci::Build: what counts as cancelable,
retryable, erasable and playable, and what each transition changes.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from artifactsvc.access import Access, Principal
from artifactsvc.auth import hash_token
from artifactsvc.errors import (
    ArtifactsvcError,
    InvalidJobState,
    JobNotErasable,
    JobNotFound,
    JobNotProcessing,
    JobNotRetryable,
    TokenJobNotFound,
    TraceSizeExceeded,
    UnplayableJob,
)
from artifactsvc.metadata import JobStore, NewJob, ProjectStore, TraceStore
from artifactsvc.models import (
    Artifact,
    Downstream,
    Job,
    JobQuery,
    JobView,
    Pipeline,
    Project,
    utcnow,
)
from artifactsvc.pipelines import load_pipeline

CANCELABLE = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "scheduled"}
)
COMPLETE = frozenset({"success", "failed", "canceled", "skipped"})
RETRYABLE = frozenset({"success", "failed", "canceled"})
WAITING_FOR_PLAY = frozenset({"manual", "scheduled"})


def is_cancelable(job: Job) -> bool:
    return job.status in CANCELABLE


def is_retryable(job: Job) -> bool:
    """Builds and bridges alike (GitLab's Processable#retryable?)."""
    return job.status in RETRYABLE and not job.retried


def is_erasable(job: Job) -> bool:
    return (
        job.status in COMPLETE and job.erased_at is None and (job.has_trace or bool(job.artifacts))
    )


def is_playable(job: Job) -> bool:
    """GitLab's playable?: an action (a manual or delayed job) that waits, or a build that
    can run again; a bridge only while it waits for its manual action."""
    if job.when not in ("manual", "delayed"):
        return False
    if job.kind == "bridge":
        return job.status == "manual"
    return job.status in ("manual", "scheduled") or is_retryable(job)


FINISHED = frozenset({"success", "failed", "canceled"})  # what a runner may report


class ArtifactHooks(Protocol):
    """What jobs need from the artifact service (it lives in artifacts.py)."""

    async def erase_job_artifacts(self, job: Job) -> None: ...

    async def live(self, job: Job) -> list[Artifact]: ...


async def load_job(
    store: JobStore, project_id: int, job_id: int, kind: str | None = "build"
) -> Job:
    """The project's job of that kind (None: a build or a bridge), or JobNotFound."""
    job = await store.job(project_id, job_id) if job_id < 2**63 else None
    if job is None or (kind is not None and job.kind != kind):
        raise JobNotFound()
    return job


@dataclass(frozen=True)
class JobDetail:
    """A job as its web page shows it: the job, and the end of its log (`trace_size` is the
    whole log's size, so the page can say what it left out)."""

    view: JobView
    trace: bytes
    trace_size: int


@dataclass(frozen=True)
class Log:
    """A job's log to send: its size when the read began, and its bytes up to that size,
    read a few pieces at a time (an append meanwhile only adds bytes after them)."""

    size: int
    chunks: AsyncIterator[bytes]


LOG_PIECES_A_READ = 8  # pieces of up to 128 KiB: about 1 MiB held per read


async def log_chunks(traces: TraceStore, job_id: int, size: int) -> AsyncIterator[bytes]:
    """The log's first `size` bytes, LOG_PIECES_A_READ pieces a read."""
    sent, first = 0, 0
    while sent < size:
        pieces = await traces.trace_pieces(job_id, first, LOG_PIECES_A_READ)
        if not pieces:
            break  # erased meanwhile: the answer ends short, as a cut connection would
        for seq, content in pieces:
            piece = content[: size - sent]
            sent += len(piece)
            first = seq + 1
            if piece:
                yield piece


@dataclass(frozen=True)
class PipelineJobs:
    """A pipeline with its current jobs and bridges (retried ones left out), by id."""

    pipeline: Pipeline
    jobs: list[JobView]


# Jobs one pipeline page shows at most (GitLab's pipeline graph is bounded as well).
PIPELINE_PAGE_JOBS = 1000


@dataclass(frozen=True)
class Page:
    jobs: list[JobView]
    total: int | None


class JobService:
    def __init__(
        self,
        jobs: JobStore,
        traces: TraceStore,
        projects: ProjectStore,
        *,
        artifacts: ArtifactHooks | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_trace_size: int | None = None,
    ) -> None:
        self._jobs = jobs
        self._traces = traces
        self._projects = projects
        self._artifacts = artifacts
        self._clock = clock
        self._max_trace_size = max_trace_size

    # -- reads -------------------------------------------------------------------------------

    async def get(self, access: Access, job_id: int, *, kind: str | None = "build") -> Job:
        access.require_read_jobs()
        return await load_job(self._jobs, access.project.id, job_id, kind)

    async def show(self, access: Access, job_id: int) -> JobView:
        return await self.view(await self.get(access, job_id))

    async def view(self, job: Job) -> JobView:
        if job.kind == "bridge":
            return JobView(job, (), await self._downstream(job))
        return JobView(job, tuple(await self.live_artifacts(job)))

    async def token_job(self, principal: Principal) -> tuple[JobView, Project]:
        """The job a job token belongs to (GET /job), with its project."""
        if principal.job is None:
            raise TokenJobNotFound()
        job = principal.job
        project = await self._projects.project(job.project_id)
        if project is None:
            raise TokenJobNotFound()
        return await self.view(job), project

    async def list_jobs(
        self, access: Access, query: JobQuery, offset: int, limit: int, *, count: bool
    ) -> Page:
        """A page of jobs, and with `count` their total (None without); `limit` 0 reads no
        jobs. Only lists GitLab counts should count: a COUNT(*) reads every matching row."""
        access.require_read_jobs()
        if query.pipeline_id is not None:
            await load_pipeline(self._jobs, access, query.pipeline_id)
        jobs = await self._jobs.jobs(query, offset, limit) if limit else []
        total = await self._jobs.count_jobs(query) if count else None
        return Page([await self.view(job) for job in jobs], total)

    async def live_artifacts(self, job: Job) -> list[Artifact]:
        """Artifacts every read endpoint may still show: unexpired, or locked as latest."""
        if self._artifacts is not None:
            return await self._artifacts.live(job)
        now = self._clock()
        return [artifact for artifact in job.artifacts if not artifact.expired(now)]

    async def _downstream(self, bridge: Job) -> Downstream | None:
        """A bridge's downstream pipeline and its project's path, when both still exist."""
        if bridge.downstream_pipeline_id is None:
            return None
        pipeline = await self._jobs.pipeline_by_id(bridge.downstream_pipeline_id)
        if pipeline is None:
            return None
        project = await self._projects.project(pipeline.project_id)
        return Downstream(pipeline, project.path_with_namespace) if project is not None else None

    async def detail(self, access: Access, job_id: int, *, trace_limit: int) -> JobDetail:
        """The job and the last `trace_limit` bytes of its log (nothing once erased)."""
        job = await self.get(access, job_id)
        found = (
            None
            if job.erased_at is not None
            else await self._traces.trace_tail(job.id, trace_limit)
        )
        shown, size = found if found is not None else (b"", 0)
        return JobDetail(await self.view(job), shown, size)

    async def pipeline_jobs(self, access: Access, pipeline_id: int) -> PipelineJobs:
        """The pipeline and its jobs and bridges, for its web page."""
        access.require_read_jobs()
        pipeline = await load_pipeline(self._jobs, access, pipeline_id)
        found: list[Job] = []
        for kind in ("build", "bridge"):
            query = JobQuery(
                project_id=access.project.id,
                pipeline_id=pipeline.id,
                kind=kind,
                include_retried=False,
            )
            found += await self._jobs.jobs(query, 0, PIPELINE_PAGE_JOBS)
        found.sort(key=lambda job: job.id)
        return PipelineJobs(pipeline, [await self.view(job) for job in found])

    async def trace(self, access: Access, job_id: int) -> Log:
        """The job's log (empty once erased), streamed: never held whole."""
        job = await self.get(access, job_id)
        size = None if job.erased_at is not None else await self._traces.trace_size(job.id)
        return Log(size or 0, log_chunks(self._traces, job.id, size or 0))

    # -- transitions -------------------------------------------------------------------------

    async def cancel(self, access: Access, job_id: int, *, force: bool = False) -> JobView:
        """Cancels the job; `force` (maintainers) also ends one stuck in `canceling`."""
        job = await self.get(access, job_id)
        access.require_developer()
        if force:
            access.require_maintainer()
        if not (is_cancelable(job) or (force and job.status == "canceling")):
            return await self.view(job)  # GitLab answers 201 with the job unchanged
        now = self._clock()
        # Decided by the row: of cancels racing through several replicas one changes it; the
        # others, as GitLab, answer with the job as it is then.
        await self._jobs.update_job(
            job.id,
            {"status": "canceled", "finished_at": now},
            statuses={"canceling"} if force and job.status == "canceling" else CANCELABLE,
        )
        return await self._reload(job)

    async def retry(self, access: Access, job_id: int) -> JobView:
        job = await self.get(access, job_id, kind=None)  # builds and bridges
        access.require_developer()
        if not is_retryable(job):
            raise JobNotRetryable()
        return await self._clone(access, job, JobNotRetryable)

    async def play(self, access: Access, job_id: int) -> JobView:
        """Runs a manual job, runs a delayed one now, or replays a finished manual build."""
        job = await self.get(access, job_id, kind=None)
        access.require_developer()
        if not is_playable(job):
            raise UnplayableJob()
        if job.status in COMPLETE:
            # Replaying a finished manual job retries it.
            return await self._clone(access, job, UnplayableJob)
        user = access.principal.user
        played = await self._jobs.update_job(
            job.id,
            {"status": "pending", "queued_at": self._clock(), "user_id": user.id if user else None},
            statuses=WAITING_FOR_PLAY,
        )
        if not played:
            raise UnplayableJob()  # played meanwhile (through another replica, perhaps)
        return await self._reload(job)

    async def erase(self, access: Access, job_id: int) -> JobView:
        job = await self.get(access, job_id)
        if not access.may_erase(job):
            raise InvalidJobState()
        if not is_erasable(job):
            raise JobNotErasable()
        # The job is claimed first, in one conditional UPDATE: of erases racing one goes on
        # to delete, the others are refused as GitLab refuses an erased job.
        if not await self._jobs.update_job(job.id, {"erased_at": self._clock()}, unerased=True):
            raise JobNotErasable()
        if self._artifacts is not None:
            await self._artifacts.erase_job_artifacts(job)
        await self._traces.delete_trace(job.id)
        return await self._reload(job)

    # -- what the job's runner reports ---------------------------------------------------------

    async def finish(self, job: Job, state: str, failure_reason: str | None) -> str:
        """The runner's final state (one of FINISHED) for its running job; returns the job's
        new status. A job being canceled ends canceled whatever its runner reports
        (CommitStatus: `drop` and `success` both go `canceling: :canceled`)."""
        if job.status == "canceling":
            state = "canceled"
        changes: dict[str, object] = {"status": state, "finished_at": self._clock()}
        if state == "failed":
            changes["failure_reason"] = failure_reason or "unknown_failure"
        # Only the state the job was authenticated in moves: a cancel or a second report that
        # won the race leaves this one refused, as GitLab refuses a job no longer running.
        if not await self._jobs.update_job(job.id, changes, statuses={job.status}):
            current = await self._jobs.job_by_id(job.id)
            raise JobNotProcessing(current.status if current is not None else job.status)
        return state

    async def append_trace(self, job: Job, start: int, data: bytes) -> int:
        """Appends a piece of the job's log at `start`; returns the new size.
        TraceOffsetMismatch (with the current size) when `start` is not the end.

        A piece that would end past the log size limit is not stored: the job is failed
        (`trace_size_exceeded`) and TraceSizeExceeded raised, as GitLab's
        AppendBuildTraceService does before it appends."""
        limit = self._max_trace_size
        if limit is not None and start + len(data) > limit:
            # `build.drop(:trace_size_exceeded)`; a canceling job goes canceled (`finish`). A
            # cancel or a final update that won the race is left as it is.
            with contextlib.suppress(JobNotProcessing):
                await self.finish(job, "failed", "trace_size_exceeded")
            raise TraceSizeExceeded()
        return await self._traces.append_trace(job.id, start, data)

    async def _clone(self, access: Access, job: Job, refusal: type[ArtifactsvcError]) -> JobView:
        user = access.principal.user
        now = self._clock()
        new_id = await self._jobs.retry_job(
            job.id,
            NewJob(
                project_id=job.project_id,
                pipeline_id=job.pipeline_id,
                kind=job.kind,
                downstream_pipeline_id=None,  # a retried bridge triggers a new downstream
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
            statuses=RETRYABLE,
        )
        if new_id is None:
            raise refusal()  # retried meanwhile (through another replica, perhaps)
        return await self.view(await load_job(self._jobs, job.project_id, new_id, kind=None))

    async def _reload(self, job: Job) -> JobView:
        return await self.view(await load_job(self._jobs, job.project_id, job.id, job.kind))
