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
    "waiting_for_callback",
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
# The values `scope` accepts on the job lists: every status (GitLab's
# CommitStatus::AVAILABLE_STATUSES).
JOB_SCOPES = JOB_STATUSES
# Personal access token scopes this service knows (GitLab's names).
TOKEN_SCOPES = ("api", "read_api", "sudo")
VISIBILITIES = ("private", "internal", "public")


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_time(value: datetime | None) -> str | None:
    """GitLab's API time format: ISO 8601 UTC with milliseconds and a Z."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # strftime was the costliest step of rendering a job; isoformat is C, truncates to the
    # millisecond as GitLab does, and ends in "+00:00" for UTC, which becomes the Z.
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_time(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    # Python 3.11 reads the `Z` the store writes, as UTC itself: most values need no more.
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is UTC:
        return parsed
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
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
class PersonalToken:
    """A user token found by its digest, with what it may be used for."""

    user: User
    scopes: frozenset[str]


@dataclass(frozen=True)
class Project:
    id: int
    path_with_namespace: str
    name: str
    visibility: str
    description: str | None
    default_branch: str | None
    created_at: datetime | None
    public_builds: bool = True  # GitLab's "public pipelines": guests and outsiders read jobs

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
    name: str | None = None
    before_sha: str | None = None
    yaml_errors: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    committed_at: datetime | None = None
    duration: int | None = None  # seconds
    queued_duration: int | None = None  # seconds
    coverage: str | None = None  # GitLab renders it as text: "30.0"
    parent_pipeline_id: int | None = None  # set on a child pipeline
    user: User | None = None


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
class Downstream:
    """The pipeline a bridge triggered, and its project's full path (for its web_url)."""

    pipeline: Pipeline
    project_path: str


@dataclass(frozen=True)
class JobView:
    """A job as the API shows it: with the artifacts every read may still see (unexpired, or
    kept by the keep-latest lock), which may be fewer than `job.artifacts`; a bridge with
    its downstream pipeline, when that still exists."""

    job: Job
    live: tuple[Artifact, ...]
    downstream: Downstream | None = None


@dataclass(frozen=True)
class JobQuery:
    """Which jobs a list endpoint wants. `before_id` drives keyset pagination."""

    project_id: int
    pipeline_id: int | None = None
    statuses: tuple[str, ...] = ()
    kind: str = "build"
    include_retried: bool = True
    before_id: int | None = None


PIPELINE_SCOPES = ("running", "pending", "finished", "branches", "tags")
PIPELINE_ORDER = ("id", "status", "ref", "updated_at", "user_id")
# GitLab's Enums::Ci::Pipeline.sources.
PIPELINE_SOURCES = (
    "unknown",
    "push",
    "web",
    "trigger",
    "schedule",
    "api",
    "external",
    "pipeline",
    "chat",
    "webide",
    "merge_request_event",
    "external_pull_request_event",
    "parent_pipeline",
    "ondemand_dast_scan",
    "ondemand_dast_validation",
    "security_orchestration_policy",
    "container_registry_push",
    "duo_workflow",
    "pipeline_execution_policy_schedule",
)


@dataclass(frozen=True)
class PipelineQuery:
    """GitLab's PipelinesFinder filters. Child pipelines are left out unless `source` is
    `parent_pipeline`; `user_id` is the triggering user `username` named (-1: nobody)."""

    project_id: int
    scope: str | None = None
    status: str | None = None
    ref: str | None = None
    sha: str | None = None
    yaml_errors: bool | None = None
    user_id: int | None = None
    updated_before: datetime | None = None
    updated_after: datetime | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    source: str | None = None
    name: str | None = None
    order_by: str = "id"
    sort: str = "desc"
