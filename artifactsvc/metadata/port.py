"""The metadata ports, one per role, and the store that composes them.

Each service names only the parts it uses (the job service never sees tokens, the artifact
service never sees memberships). `sql_store.SqlMetadataStore` implements every part over
SQLite (embedded default) or PostgreSQL; every method is async and runs its blocking work
off the event loop.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from artifactsvc.models import (
    Artifact,
    Job,
    JobQuery,
    PersonalToken,
    Pipeline,
    PipelineQuery,
    Project,
    User,
)


@dataclass(frozen=True)
class NewJob:
    """A job created by a retry or by playing a finished manual job."""

    project_id: int
    pipeline_id: int
    kind: str  # "build" or "bridge"
    downstream_pipeline_id: int | None
    name: str
    stage: str
    status: str
    when: str
    allow_failure: bool
    user_id: int | None
    tag_list: tuple[str, ...]
    token_hash: str | None
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    project_id: int
    user_id: int
    access_level: int


@dataclass
class ImportBatch:
    """A validated import file as domain records, ready to upsert in one transaction."""

    users: list[User] = field(default_factory=list)
    # (token digest, user id, scopes)
    tokens: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    members: list[Membership] = field(default_factory=list)
    allowlist: list[tuple[int, int]] = field(default_factory=list)  # (project, allowed project)
    pipelines: list[Pipeline] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    job_tokens: dict[int, str] = field(default_factory=dict)  # job id -> token digest
    traces: list[tuple[int, bytes]] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)


class IdentityStore(Protocol):
    """Who a token belongs to, and what a user or a job's project may reach."""

    async def personal_token(self, token_hash: str) -> PersonalToken | None: ...
    async def user(self, id_or_username: str) -> User | None: ...
    async def job_by_token_hash(self, token_hash: str) -> Job | None: ...
    async def user_by_username(self, username: str) -> User | None: ...
    async def member_level(self, project_id: int, user_id: int) -> int | None: ...
    async def job_token_allowed(self, project_id: int, source_project_id: int) -> bool: ...


class ProjectStore(Protocol):
    async def project(self, project_id: int) -> Project | None: ...
    async def project_by_path(self, path: str) -> Project | None: ...


class JobStore(Protocol):
    """Pipelines and their jobs (builds and bridges)."""

    async def pipeline(self, project_id: int, pipeline_id: int) -> Pipeline | None: ...
    async def pipeline_by_id(self, pipeline_id: int) -> Pipeline | None: ...
    async def pipelines(self, query: PipelineQuery, offset: int, limit: int) -> list[Pipeline]: ...
    async def count_pipelines(self, query: PipelineQuery) -> int: ...
    async def latest_pipeline(self, project_id: int, ref: str) -> Pipeline | None: ...
    async def job(self, project_id: int, job_id: int) -> Job | None: ...
    async def job_by_id(self, job_id: int) -> Job | None: ...
    async def jobs(self, query: JobQuery, offset: int, limit: int) -> list[Job]: ...
    async def count_jobs(self, query: JobQuery) -> int: ...
    async def update_job(
        self,
        job_id: int,
        changes: dict[str, Any],
        *,
        statuses: Collection[str] | None = None,
        unerased: bool = False,
    ) -> bool:
        """Applies `changes` in one conditional UPDATE: only while the job's status is one of
        `statuses` (and, with `unerased`, it is not erased). False when the job was not in
        that state (a racing transition won); JobNotFound when unguarded and missing."""
        ...

    async def retry_job(
        self, old_job_id: int, new_job: NewJob, *, statuses: Collection[str]
    ) -> int | None:
        """Marks the old job retried and creates `new_job` in one transaction, only while the
        old one is in `statuses` and not retried; the new id, or None (another retry won)."""
        ...


class TraceStore(Protocol):
    """A job's log, never read whole: its size, its pieces in order (`first` the sequence
    number to start at: a stream reads a few at a time), or its last bytes."""

    async def trace_size(self, job_id: int) -> int | None: ...
    async def trace_pieces(
        self, job_id: int, first: int, count: int
    ) -> list[tuple[int, bytes]]: ...

    async def trace_tail(self, job_id: int, limit: int) -> tuple[bytes, int] | None:
        """The last `limit` bytes of the log and its size, of one snapshot."""
        ...

    async def append_trace(self, job_id: int, start: int, data: bytes) -> int:
        """Appends at `start`, which must be the current size (else TraceOffsetMismatch);
        returns the new size."""
        ...

    async def delete_trace(self, job_id: int) -> None: ...


class ArtifactStore(Protocol):
    """Artifact rows, their expiry and keep-latest locks, and the ref lookup."""

    async def insert_artifact(self, artifact: Artifact) -> None: ...
    async def artifacts_of(self, job_id: int) -> list[Artifact]: ...
    async def delete_artifacts(self, job_id: int) -> list[Artifact]: ...
    async def delete_artifact_row(self, artifact: Artifact) -> bool: ...
    async def set_artifacts_expiry(self, job_id: int, expire_at: datetime | None) -> int: ...
    async def latest_successful_pipeline_id(self, project_id: int, ref: str) -> int | None: ...
    async def ref_job(
        self,
        project_id: int,
        ref: str,
        name: str,
        *,
        recent: int | None,
        now: datetime,
        keep_latest: bool = True,
    ) -> Job | None: ...
    async def expire_project_artifacts(
        self, project_id: int, now: datetime, *, keep_latest: bool
    ) -> int: ...
    async def expired_artifacts(
        self, now: datetime, *, keep_latest: bool, limit: int
    ) -> list[Artifact]: ...
    async def known_object_keys(self, keys: list[str]) -> set[str]: ...
    async def set_artifact_index(
        self, artifact: Artifact, index_key: str, directory: bytes
    ) -> None: ...


@dataclass(frozen=True)
class TypeUsage:
    """What one project stores of one artifact type."""

    project_id: int
    path_with_namespace: str
    file_type: str
    artifacts: int
    bytes: int


@dataclass(frozen=True)
class StoredArtifact:
    """One stored artifact with the names an operator reads it by."""

    project_id: int
    path_with_namespace: str
    job_id: int
    job_name: str
    file_type: str
    size: int
    expire_at: datetime | None
    created_at: datetime | None


class UsageStore(Protocol):
    """Aggregates over the artifact rows, for operators and project statistics; each one
    statement, so a report is consistent within itself even while uploads go on.
    `project_id` None: every project."""

    async def bytes_by_type(self, project_id: int | None) -> list[TypeUsage]:
        """Count and bytes per project and file type, by project path then type."""
        ...

    async def largest_artifacts(
        self, project_id: int | None, file_type: str, limit: int
    ) -> list[StoredArtifact]:
        """The `limit` largest of that type, largest first (ties: newest job first)."""
        ...

    async def expiring_artifacts(
        self, project_id: int | None, start: datetime, end: datetime, *, keep_latest: bool
    ) -> list[StoredArtifact]:
        """Those whose expire_at falls in [start, end], soonest first; with `keep_latest`
        not those the keep-latest lock holds (they will not expire then)."""
        ...


class ImportStore(Protocol):
    async def import_batch(self, batch: ImportBatch) -> None: ...


class MetadataStore(Protocol):
    """Every part, plus the schema and the connection's life."""

    @property
    def identities(self) -> IdentityStore: ...
    @property
    def projects(self) -> ProjectStore: ...
    @property
    def jobs(self) -> JobStore: ...
    @property
    def traces(self) -> TraceStore: ...
    @property
    def artifacts(self) -> ArtifactStore: ...
    @property
    def imports(self) -> ImportStore: ...
    @property
    def usage(self) -> UsageStore: ...

    async def migrate(self, *, target: int = ...) -> list[int]:
        """Applies the schema migrations this database lacks (up to `target`, by default the
        latest); returns the versions applied."""
        ...

    async def schema_version(self) -> int: ...
    async def ping(self) -> None: ...
    def close(self) -> None: ...
