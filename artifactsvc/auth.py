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

from artifactsvc.errors import Forbidden, InvalidToken, ProjectNotFound, Unauthenticated
from artifactsvc.metadata import MetadataStore
from artifactsvc.models import ADMIN, DEVELOPER, MAINTAINER, REPORTER, Job, Project, User


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


async def authenticate(store: MetadataStore, credentials: Credentials) -> Principal:
    """Resolves credentials; an unknown token, or a job that is not running, is InvalidToken."""
    if credentials.user_token:
        digest = hash_token(credentials.user_token)
        user = await store.user_by_token_hash(digest)
        if user is None or user.state != "active":
            raise InvalidToken()
        return Principal(user=user)
    if credentials.job_token:
        digest = hash_token(credentials.job_token)
        job = await store.job_by_token_hash(digest)
        if job is None or job.status != "running":
            raise InvalidToken()
        return Principal(job=job)
    return ANONYMOUS


async def authenticate_job(store: MetadataStore, job_id: int, token: str | None) -> Job:
    """Runner endpoints: the token must be this job's and the job must be running (else 403)."""
    if not token:
        raise Forbidden()
    job = await store.job_by_token_hash(hash_token(token))
    if job is None or job.id != job_id or job.status != "running":
        raise Forbidden()
    return job


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


async def resolve_access(store: MetadataStore, principal: Principal, project_ref: str) -> Access:
    """The project named by id or full path, if this principal may see it; else ProjectNotFound."""
    project = await find_project(store, project_ref)
    if project is None:
        raise ProjectNotFound()
    if principal.job is not None:
        source = principal.job.project_id
        if source == project.id or await store.job_token_allowed(project.id, source):
            return Access(project, principal, 0, via_job_token=True)
        raise ProjectNotFound()
    user = principal.user
    if user is None:
        if project.visibility == "public":
            return Access(project, principal, 0)
        raise ProjectNotFound()
    if user.admin:
        return Access(project, principal, ADMIN)
    level = await store.member_level(project.id, user.id)
    if level is not None:
        return Access(project, principal, level)
    if project.visibility in ("public", "internal"):
        return Access(project, principal, 0)
    raise ProjectNotFound()


async def find_project(store: MetadataStore, project_ref: str) -> Project | None:
    if "\x00" in project_ref or not _is_utf8(project_ref):
        return None  # names no project (and neither database can even compare it)
    if project_ref.isascii() and project_ref.isdigit():
        project_id = int(project_ref)
        return await store.project(project_id) if project_id < 2**63 else None
    return await store.project_by_path(project_ref)


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
