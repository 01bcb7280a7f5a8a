"""How much is stored: per project and artifact type, the largest archives, what expires
soon (`artifactsvc usage`), and a project's statistics (`GET /projects/:id?statistics=true`).

Every figure is one aggregate query over the artifact rows (metadata/sql_usage.py), read
when asked: GitLab keeps ProjectStatistics as counters refreshed asynchronously; here the
rows are the truth and an index on (project_id) keeps the sum cheap, so there is no counter
to drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from artifactsvc.access import Access
from artifactsvc.auth import AuthService
from artifactsvc.metadata import StoredArtifact, TypeUsage, UsageStore
from artifactsvc.models import utcnow
from artifactsvc.operators import OPERATOR

EXPIRY_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class UsageReport:
    """`project` None: every project. `expiring`: expire_at within [now, now + window]."""

    project: str | None
    now: datetime
    window: timedelta
    by_type: list[TypeUsage]
    largest: list[StoredArtifact]
    expiring: list[StoredArtifact]

    @property
    def total_bytes(self) -> int:
        return sum(row.bytes for row in self.by_type)


@dataclass(frozen=True)
class ProjectStatistics:
    """GitLab's ProjectStatistics entity, with what this service stores: job artifacts
    (every type: archives, metadata, reports). The rest (repository, wiki, LFS, packages,
    registry...) this service does not hold: 0. `storage_size` is their sum, as GitLab's."""

    job_artifacts_size: int

    def as_gitlab(self) -> dict[str, int]:
        return {
            "commit_count": 0,
            "storage_size": self.job_artifacts_size,
            "repository_size": 0,
            "wiki_size": 0,
            "lfs_objects_size": 0,
            "job_artifacts_size": self.job_artifacts_size,
            "pipeline_artifacts_size": 0,
            "packages_size": 0,
            "snippets_size": 0,
            "uploads_size": 0,
            "container_registry_size": 0,
        }


class UsageService:
    def __init__(
        self,
        store: UsageStore,
        auth: AuthService,
        *,
        keep_latest: bool,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._auth = auth
        self._keep_latest = keep_latest
        self._clock = clock

    async def report(
        self, project: str | None, *, top: int, window: timedelta = EXPIRY_WINDOW
    ) -> UsageReport:
        """For one project (by id or full path; ProjectNotFound) or all. `expiring` leaves
        out what the keep-latest lock holds: `expire` would not delete it then."""
        project_id = None
        if project is not None:
            project_id = (await self._auth.project_access(OPERATOR, project)).project.id
        now = self._clock()
        return UsageReport(
            project=project,
            now=now,
            window=window,
            by_type=await self._store.bytes_by_type(project_id),
            largest=await self._store.largest_artifacts(project_id, "archive", top),
            expiring=await self._store.expiring_artifacts(
                project_id, now, now + window, keep_latest=self._keep_latest
            ),
        )

    async def project_statistics(self, access: Access) -> ProjectStatistics | None:
        """The project's statistics if the caller may read them (GitLab's `read_statistics`:
        reporters and up, administrators), else None."""
        if not access.can_read_statistics():
            return None
        rows = await self._store.bytes_by_type(access.project.id)
        return ProjectStatistics(job_artifacts_size=sum(row.bytes for row in rows))
