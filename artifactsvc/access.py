"""What a principal may do in one project: GitLab's ProjectPolicy, reduced to the Jobs API.

The abilities, as GitLab names them (app/policies/project_policy.rb):

    read_build      reporters and up; anyone who can see the project while its
                    `public_builds` ("public pipelines") is on (guests, outsiders on public
                    and internal projects, anonymous callers on public ones)
    read_pipeline   reporters and up; anyone on a public project, any signed-in user on an
                    internal one; guests while `public_builds` is on
    read_statistics reporters and up (`?statistics=true` on a project)
    developer       cancel, retry, play, keep (update_build)
    maintainer      delete artifacts (destroy_artifacts), force-cancel, erase anyone's job

A job token acts as its job's user and is never more than that user (CONTRACT section 4).
On a public or internal project outside the token's scope it loses every membership role,
so only what `public_builds` grants remains: reading jobs and fetching artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass

from artifactsvc.errors import Forbidden
from artifactsvc.models import ADMIN, DEVELOPER, GUEST, MAINTAINER, REPORTER, Job, Project, User


@dataclass(frozen=True)
class Principal:
    """The caller: anonymous, a user (through a personal token), or a running job acting
    for its user through its job token (`job` set, `user` its user)."""

    user: User | None = None
    job: Job | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Principal()


@dataclass(frozen=True)
class Access:
    """A principal's standing in one visible project. `level` 0: visible, not a member."""

    project: Project
    principal: Principal
    level: int

    @property
    def via_job_token(self) -> bool:
        return self.principal.job is not None

    @property
    def is_admin(self) -> bool:
        return self.level >= ADMIN

    def _require(self, allowed: bool) -> None:
        if not allowed:
            raise Forbidden()

    def _sees_publicly(self) -> bool:
        """Public access without a role: public projects, and internal ones when signed in."""
        visibility = self.project.visibility
        return visibility == "public" or (visibility == "internal" and not self.principal.anonymous)

    def can_read_jobs(self) -> bool:
        if self.level >= REPORTER:
            return True
        # A guest or an outsider who can see the project: only under "public pipelines".
        return self.project.public_builds and (self.level >= GUEST or self._sees_publicly())

    def can_read_statistics(self) -> bool:
        """GitLab's `read_statistics` (`reporter_access`): reporters and up, admins."""
        return self.level >= REPORTER

    def require_read_jobs(self) -> None:
        self._require(self.can_read_jobs())

    def can_read_pipelines(self) -> bool:
        if self.level >= REPORTER or self._sees_publicly():
            return True
        return self.project.public_builds and self.level >= GUEST

    def require_read_pipelines(self) -> None:
        self._require(self.can_read_pipelines())

    def require_read_artifacts(self) -> None:
        """Artifact downloads: GitLab's `authorize_read_builds!`, anonymous callers included."""
        self.require_read_jobs()

    def is_developer(self) -> bool:
        """Cancel, retry, play, keep: what the pages offer a button for (and check again)."""
        return self.level >= DEVELOPER

    def is_maintainer(self) -> bool:
        return self.level >= MAINTAINER

    def require_developer(self) -> None:
        self._require(self.is_developer())

    def require_maintainer(self) -> None:
        self._require(self.is_maintainer())

    def may_erase(self, job: Job) -> bool:
        """Developers erase their own jobs; maintainers and admins any job."""
        if self.level >= MAINTAINER:
            return True
        user = self.principal.user
        return self.level >= DEVELOPER and user is not None and job.user_id == user.id
