"""Domain records as the services see them. Plain frozen dataclasses: no I/O, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# GitLab's access levels.
GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
ADMIN = 60  # above every member level: an administrator may do anything

JOB_STATUSES = (
    "created",
    "waiting_for_resource",
    "preparing",
    "pending",
    "running",
    "success",
    "failed",
    "canceling",
    "canceled",
    "skipped",
    "manual",
    "scheduled",
)
# The values `scope` accepts on the job lists (the seed document's list).
JOB_SCOPES = ("created", "pending", "running", "failed", "success", "canceled", "skipped", "manual")
VISIBILITIES = ("private", "internal", "public")


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_time(value: datetime | None) -> str | None:
    """GitLab's API time format: ISO 8601 UTC with milliseconds and a Z."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_time(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str
    email: str
    admin: bool
    state: str
    created_at: datetime | None


@dataclass(frozen=True)
class Project:
    id: int
    path_with_namespace: str
    name: str
    visibility: str
    description: str | None
    default_branch: str | None
    created_at: datetime | None

    @property
    def path(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.path_with_namespace.rsplit("/", 1)[0] if "/" in self.path_with_namespace else ""


@dataclass(frozen=True)
class Pipeline:
    id: int
    iid: int
    project_id: int
    ref: str
    tag: bool
    sha: str
    status: str
    source: str
    created_at: datetime | None
    updated_at: datetime | None
    commit: dict[str, Any] | None
    user_id: int | None = None


@dataclass(frozen=True)
class Artifact:
    job_id: int
    project_id: int
    file_type: str
    file_format: str
    filename: str
    size: int
    object_key: str
    etag: str
    sha256: str | None
    expire_at: datetime | None
    created_at: datetime | None
    index_directory: bytes | None = None
    index_key: str | None = None
    # GitLab's `accessibility`: public, private (developers), maintainer, none.
    accessibility: str = "public"

    def expired(self, now: datetime) -> bool:
        return self.expire_at is not None and self.expire_at <= now


@dataclass(frozen=True)
class Job:
    id: int
    project_id: int
    pipeline_id: int
    name: str
    stage: str
    status: str
    kind: str  # "build" or "bridge"
    when: str
    allow_failure: bool
    user_id: int | None
    coverage: float | None
    tag_list: tuple[str, ...]
    failure_reason: str | None
    created_at: datetime | None
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    erased_at: datetime | None
    retried: bool
    downstream_pipeline_id: int | None
    runner: dict[str, Any] | None
    has_trace: bool = False
    pipeline: Pipeline | None = None
    user: User | None = None
    artifacts: tuple[Artifact, ...] = field(default=())


@dataclass(frozen=True)
class JobView:
    """A job as the API shows it: with the artifacts every read may still see (unexpired, or
    kept by the keep-latest lock), which may be fewer than `job.artifacts`."""

    job: Job
    live: tuple[Artifact, ...]


@dataclass(frozen=True)
class JobQuery:
    """Which jobs a list endpoint wants. `before_id` drives keyset pagination."""

    project_id: int
    pipeline_id: int | None = None
    statuses: tuple[str, ...] = ()
    kind: str = "build"
    include_retried: bool = True
    before_id: int | None = None
