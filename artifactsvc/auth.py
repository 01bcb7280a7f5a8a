"""Who is calling (CONTRACT section 4): tokens to a principal, a principal to its standing
in a project (access.py says what that standing allows).

Tokens arrive in clear and are only ever stored and looked up as their SHA-256 digest (as
GitLab's `token_digest`), and the digest found is compared once more with
`hmac.compare_digest` in the store. Whatever timing an index lookup leaks concerns a digest
prefix, which tells an attacker nothing about any token.
Nothing here logs a token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from artifactsvc.access import ANONYMOUS, Access, Principal
from artifactsvc.errors import (
    Forbidden,
    InsufficientScope,
    InvalidToken,
    JobErased,
    JobNotProcessing,
    JobTokenOutOfScope,
    ProjectNotFound,
    SudoNotAllowed,
    SudoUserNotFound,
    Unauthenticated,
)
from artifactsvc.metadata import IdentityStore, ProjectStore
from artifactsvc.models import ADMIN, Job, PersonalToken, Project
from artifactsvc.ttlcache import TtlCache

# Ci::HasStatus::EXECUTING_STATUSES: a job being canceled gracefully still runs on its runner,
# which goes on sending its log, its artifacts and its final state with the job's token.
EXECUTING = frozenset({"running", "canceling"})
NOT_MEMBER = -1


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """What the request carried. A user token wins over a job token; `sudo` names the user
    an administrator's token acts as."""

    user_token: str | None = None
    job_token: str | None = None
    sudo: str | None = None

    @property
    def present(self) -> bool:
        return bool(self.user_token or self.job_token)


class AuthService:
    """Credentials to a principal, a principal to its standing in a project, job tokens to
    their running job. The one place that applies the CI job token allowlist."""

    def __init__(
        self, identities: IdentityStore, projects: ProjectStore, *, cache_ttl: float = 0
    ) -> None:
        """`cache_ttl` (AUTH_CACHE_TTL): seconds a personal token's user, a project and a
        membership found are reused; a revoked token, a blocked user or a changed role takes
        effect within it. Job tokens are never cached: their job's state decides."""
        self._identities = identities
        self._projects = projects
        self._tokens: TtlCache[str, PersonalToken] = TtlCache(cache_ttl)
        self._found_projects: TtlCache[str, Project] = TtlCache(cache_ttl)
        # A member's level, or NOT_MEMBER: an absent membership is remembered too, as a value.
        self._levels: TtlCache[tuple[int, int], int] = TtlCache(cache_ttl)

    async def authenticate(
        self, credentials: Credentials, *, job_token_allowed: bool = True, write: bool = False
    ) -> Principal:
        """The caller. A job token counts only where the route accepts one (GitLab's
        `job_token_allowed`); elsewhere it is ignored, as GitLab ignores it. `write`: the
        request changes something, which a `read_api` token may not do."""
        if credentials.user_token:
            principal = await self.token_digest(hash_token(credentials.user_token), write=write)
            return await self._sudo(principal, credentials.sudo) if credentials.sudo else principal
        if credentials.job_token and job_token_allowed:
            job = await self.running_job_of(credentials.job_token)
            if job.user is None or job.user.state != "active":
                raise InvalidToken()  # a job token acts as its user, and there is none
            return Principal(user=job.user, job=job)
        return ANONYMOUS

    async def token_digest(self, digest: str, *, write: bool = False) -> Principal:
        """The user of the personal token with this digest, checked as on every API request
        (active user, scopes): InvalidToken or InsufficientScope otherwise. The web session
        keeps only the digest (web/session.py), so a revoked token ends its sessions too."""
        found = await self._tokens.get(digest, lambda: self._identities.personal_token(digest))
        if found is None or found.user.state != "active":
            raise InvalidToken()
        if not (found.scopes & ({"api"} if write else {"api", "read_api"})):
            raise InsufficientScope("api" if write else "api read_api")
        return Principal(user=found.user, scopes=found.scopes)

    async def granted_access(self, user_id: int | None, project_id: int) -> Access:
        """A user's standing in a project, for a read that user granted earlier (a report's
        capability, web/capabilities.py): what `project_access` gives that user now, read
        only. None: anonymous. InvalidToken for a user gone or blocked since."""
        principal = ANONYMOUS
        if user_id is not None:
            user = await self._identities.user(str(user_id))
            if user is None or user.state != "active":
                raise InvalidToken()
            principal = Principal(user=user, scopes=frozenset({"read_api"}))
        return await self.project_access(principal, str(project_id))

    async def _sudo(self, principal: Principal, identifier: str) -> Principal:
        """GitLab's `sudo!`: an administrator's token with the `sudo` scope acts as another
        user; anything else is refused, never silently ignored."""
        assert principal.user is not None
        if not principal.user.admin:
            raise SudoNotAllowed()
        if "sudo" not in principal.scopes:
            raise InsufficientScope("sudo")
        user = await self._identities.user(identifier)
        if user is None:
            raise SudoUserNotFound(identifier)
        return Principal(user=user, scopes=principal.scopes)

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

    async def job_token_reaches(self, job: Job, project_id: int) -> bool:
        """A job token reaches its own project and those whose allowlist names its project."""
        return job.project_id == project_id or await self._identities.job_token_allowed(
            project_id, job.project_id
        )

    async def project_access(self, principal: Principal, project_ref: str) -> Access:
        """The project named by id or full path, if this principal may see it; else
        ProjectNotFound (JobTokenOutOfScope for a job token, as GitLab answers)."""
        project = await self._find_project(project_ref)
        if project is None:
            raise ProjectNotFound()
        user = principal.user
        if user is None:
            if project.visibility == "public":
                return Access(project, principal, 0)
            raise ProjectNotFound()
        level = ADMIN if user.admin else await self._member_level(project.id, user.id)
        visible = level is not None or project.visibility in ("public", "internal")
        if principal.job is not None:
            in_scope = await self.job_token_reaches(principal.job, project.id)
            if not visible or not (in_scope or project.visibility != "private"):
                source = await self._projects.project(principal.job.project_id)
                raise JobTokenOutOfScope(source.path if source else "", project.path)
            if not in_scope:
                return Access(project, principal, 0)  # no role outside the token's scope
        if not visible:
            raise ProjectNotFound()
        return Access(project, principal, level or 0)

    async def _member_level(self, project_id: int, user_id: int) -> int | None:
        async def load() -> int:
            level = await self._identities.member_level(project_id, user_id)
            return NOT_MEMBER if level is None else level

        level = await self._levels.get((project_id, user_id), load)
        return None if level == NOT_MEMBER else level

    async def _find_project(self, project_ref: str) -> Project | None:
        return await self._found_projects.get(project_ref, lambda: self._load_project(project_ref))

    async def _load_project(self, project_ref: str) -> Project | None:
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
