"""Projects, by id or by full path."""

from __future__ import annotations

from artifactsvc.metadata import rows
from artifactsvc.metadata.database import AsyncDatabase
from artifactsvc.models import Project


class SqlProjects:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def project(self, project_id: int) -> Project | None:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT * FROM projects WHERE id = ?", (project_id,))
        )
        return rows.project(found[0]) if found else None

    async def project_by_path(self, path: str) -> Project | None:
        # GitLab matches full paths case-insensitively.
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT * FROM projects WHERE LOWER(path_with_namespace) = LOWER(?)", (path,)
            )
        )
        return rows.project(found[0]) if found else None
