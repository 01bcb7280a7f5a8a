"""Who is calling and what they may do with a project (CONTRACT section 4).

Tokens arrive in clear and are only ever stored and looked up as their SHA-256 digest (as
GitLab's `token_digest`), and the digest found is compared once more with
`hmac.compare_digest` in the store. Whatever timing an index lookup leaks concerns a digest
prefix, which tells an attacker nothing about any token.
Nothing here logs a token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from artifactsvc.errors import (
    Forbidden,
    InvalidToken,
    JobErased,
    JobNotProcessing,
    ProjectNotFound,
    Unauthenticated,
)
from artifactsvc.metadata import IdentityStore, ProjectStore
from artifactsvc.models import ADMIN, DEVELOPER, MAINTAINER, REPORTER, Job, Project, User

# Ci::HasStatus::EXECUTING_STATUSES: a job being canceled gracefully still runs on its runner,
# which goes on sending its log, its artifacts and its final state with the job's token.
EXECUTING = frozenset({"running", "canceling"})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """What the request carried; at most one of the two is used (user tokens win)."""

    user_token: str | None = None
    job_token: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.user_token or self.job_token)


@dataclass(frozen=True)
class Principal:
    """The caller: anonymous (both None), a user, or a running job acting through its token."""

    user: User | None = None
    job: Job | None = None

    @property
    def anonymous(self) -> bool:
        return self.user is None and self.job is None


ANONYMOUS = Principal()


@dataclass(frozen=True)
class Access:
    """A principal's standing in one visible project. `level` 0: visible, not a member."""

    project: Project
    principal: Principal
    level: int
    via_job_token: bool = False

    def _require(self, allowed: bool) -> None:
        if not allowed:
            raise Forbidden()

    @property
    def is_admin(self) -> bool:
        return self.level >= ADMIN

    def can_read_jobs(self) -> bool:
        if self.via_job_token or self.principal.anonymous:
            return False
        return self.level >= REPORTER or self.project.visibility in ("public", "internal")

    def require_read_jobs(self) -> None:
        self._require(self.can_read_jobs())

    def require_read_pipelines(self) -> None:
        """As GitLab: anyone, even anonymous, reads a public project's pipelines."""
        if self.principal.anonymous and self.project.visibility == "public":
            return
        self.require_read_jobs()

    def require_read_artifacts(self) -> None:
        if self.via_job_token:
            return  # resolve_access already checked the project or its allowlist
        if self.principal.anonymous:
            self._require(self.project.visibility == "public")
            return
        self.require_read_jobs()

    def require_developer(self) -> None:
        self._require(not self.via_job_token and self.level >= DEVELOPER)

    def require_maintainer(self) -> None:
        self._require(not self.via_job_token and self.level >= MAINTAINER)

    def may_erase(self, job: Job) -> bool:
        """Developers erase their own jobs; maintainers and admins any job."""
        if self.via_job_token:
            return False
        if self.level >= MAINTAINER:
            return True
        user = self.principal.user
        return self.level >= DEVELOPER and user is not None and job.user_id == user.id


class AuthService:
    """Credentials to a principal, a principal to its standing in a project, job tokens to
    their running job. The one place that applies the CI job token allowlist."""

    def __init__(self, identities: IdentityStore, projects: ProjectStore) -> None:
        self._identities = identities
        self._projects = projects

    async def authenticate(self, credentials: Credentials) -> Principal:
        """Resolves credentials; an unknown token, or a job that is not running, is InvalidToken."""
        if credentials.user_token:
            user = await self._identities.user_by_token_hash(hash_token(credentials.user_token))
            if user is None or user.state != "active":
                raise InvalidToken()
            return Principal(user=user)
        if credentials.job_token:
            return Principal(job=await self.running_job_of(credentials.job_token))
        return ANONYMOUS

    async def running_job_of(self, token: str | None) -> Job:
        """The executing job a job token belongs to (Ci::AuthJobFinder: running or
        canceling): Unauthenticated without one, InvalidToken for an unknown token or a job
        that is neither."""
        if not token:
            raise Unauthenticated()
        job = await self._identities.job_by_token_hash(hash_token(token))
        if job is None or job.status not in EXECUTING:
            raise InvalidToken()
        return job

    async def runner_job(self, job_id: int, token: str | None) -> Job:
        """Runner endpoints, as GitLab's `authenticate_job!`: Forbidden unless the token is
        this job's; JobErased for an erased job; JobNotProcessing (with the job's status)
        unless it is running or canceling."""
        if not token:
            raise Forbidden()
        job = await self._identities.job_by_token_hash(hash_token(token))
        if job is None or job.id != job_id:
            raise Forbidden()
        if job.erased_at is not None:
            raise JobErased()
        if job.status not in EXECUTING:
            raise JobNotProcessing(job.status)
        return job

    async def artifact_level(self, access: Access) -> int:
        """The level that decides which artifacts `access` may download: its own, or for a
        job token that of the job's user in the project (GitLab's job token acts as its
        user: `can?(current_user, :read_job_artifacts, artifact)`)."""
        job = access.principal.job
        if not access.via_job_token or job is None:
            return access.level
        user = job.user
        if user is not None and user.admin:
            return ADMIN
        if job.user_id is None:
            return 0
        return await self._identities.member_level(access.project.id, job.user_id) or 0

    async def job_token_reaches(self, job: Job, project_id: int) -> bool:
        """A job token reaches its own project and those whose allowlist names its project."""
        return job.project_id == project_id or await self._identities.job_token_allowed(
            project_id, job.project_id
        )

    async def project_access(self, principal: Principal, project_ref: str) -> Access:
        """The project named by id or full path, if this principal may see it; else
        ProjectNotFound."""
        project = await self._find_project(project_ref)
        if project is None:
            raise ProjectNotFound()
        if principal.job is not None:
            if await self.job_token_reaches(principal.job, project.id):
                return Access(project, principal, 0, via_job_token=True)
            raise ProjectNotFound()
        user = principal.user
        if user is None:
            if project.visibility == "public":
                return Access(project, principal, 0)
            raise ProjectNotFound()
        if user.admin:
            return Access(project, principal, ADMIN)
        level = await self._identities.member_level(project.id, user.id)
        if level is not None:
            return Access(project, principal, level)
        if project.visibility in ("public", "internal"):
            return Access(project, principal, 0)
        raise ProjectNotFound()

    async def _find_project(self, project_ref: str) -> Project | None:
        if "\x00" in project_ref or not _is_utf8(project_ref):
            return None  # names no project (and neither database can even compare it)
        if project_ref.isascii() and project_ref.isdigit():
            project_id = int(project_ref)
            return await self._projects.project(project_id) if project_id < 2**63 else None
        return await self._projects.project_by_path(project_ref)


def _is_utf8(text: str) -> bool:
    """False for segments that were not valid UTF-8 (the router keeps those as surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def require_authenticated(principal: Principal) -> None:
    if principal.anonymous:
        raise Unauthenticated()
