"""Usage: what the artifact rows add up to, per project and type, largest, soon expiring.

Each report is one aggregate statement over `artifacts` (indexed by project and by expiry),
joined to projects and jobs only for the names an operator reads; nothing is loaded to be
summed in Python, so the cost stays one scan whatever the number of artifacts.
"""

from __future__ import annotations

from datetime import datetime

from artifactsvc.metadata.database import AsyncDatabase, Params, Row
from artifactsvc.metadata.port import StoredArtifact, TypeUsage
from artifactsvc.metadata.sql_artifacts import LOCKED
from artifactsvc.models import format_time, parse_time

STORED_SELECT = (
    "SELECT a.project_id, pr.path_with_namespace, a.job_id, j.name AS job_name, a.file_type,"
    " a.size, a.expire_at, a.created_at"
    " FROM artifacts a JOIN jobs j ON j.id = a.job_id"
    " JOIN pipelines p ON p.id = j.pipeline_id"
    " JOIN projects pr ON pr.id = a.project_id"
)


def _scope(project_id: int | None) -> tuple[str, Params]:
    if project_id is None:
        return "", ()
    return " AND a.project_id = ?", (project_id,)


def _stored(row: Row) -> StoredArtifact:
    return StoredArtifact(
        project_id=int(row["project_id"]),
        path_with_namespace=row["path_with_namespace"],
        job_id=int(row["job_id"]),
        job_name=row["job_name"],
        file_type=row["file_type"],
        size=int(row["size"]),
        expire_at=parse_time(row["expire_at"]),
        created_at=parse_time(row["created_at"]),
    )


class SqlUsage:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def bytes_by_type(self, project_id: int | None) -> list[TypeUsage]:
        where, params = _scope(project_id)
        sql = (
            "SELECT a.project_id, pr.path_with_namespace, a.file_type,"
            " COUNT(*) AS artifacts, SUM(a.size) AS bytes"
            " FROM artifacts a JOIN projects pr ON pr.id = a.project_id"
            f" WHERE 1 = 1{where}"
            " GROUP BY a.project_id, pr.path_with_namespace, a.file_type"
            " ORDER BY pr.path_with_namespace, a.file_type"
        )
        found = await self._db.read(lambda conn: conn.fetch(sql, params))
        return [
            TypeUsage(
                project_id=int(row["project_id"]),
                path_with_namespace=row["path_with_namespace"],
                file_type=row["file_type"],
                artifacts=int(row["artifacts"]),
                bytes=int(row["bytes"]),
            )
            for row in found
        ]

    async def largest_artifacts(
        self, project_id: int | None, file_type: str, limit: int
    ) -> list[StoredArtifact]:
        where, params = _scope(project_id)
        sql = (
            f"{STORED_SELECT} WHERE a.file_type = ?{where}"
            " ORDER BY a.size DESC, a.job_id DESC LIMIT ?"
        )
        found = await self._db.read(lambda conn: conn.fetch(sql, (file_type, *params, limit)))
        return [_stored(row) for row in found]

    async def expiring_artifacts(
        self, project_id: int | None, start: datetime, end: datetime, *, keep_latest: bool
    ) -> list[StoredArtifact]:
        where, params = _scope(project_id)
        lock = f" AND NOT ({LOCKED})" if keep_latest else ""
        # Times are stored as format_time's fixed-width UTC text, so BETWEEN on the text is
        # BETWEEN on the times, on SQLite and PostgreSQL alike.
        sql = (
            f"{STORED_SELECT} WHERE a.expire_at BETWEEN ? AND ?{where}{lock}"
            " ORDER BY a.expire_at, a.job_id, a.file_type"
        )
        window = (format_time(start), format_time(end))
        found = await self._db.read(lambda conn: conn.fetch(sql, (*window, *params)))
        return [_stored(row) for row in found]
