"""Artifact rows: insert, delete, expiry, keep-latest locks and the ref lookup.

"Locked" is GitLab's keep-latest rule: the artifacts of the newest successful pipeline of a
ref never expire until a newer pipeline on that ref succeeds. It is computed, not stored, so
a new success unlocks the previous pipeline without any write.
"""

from __future__ import annotations

from datetime import datetime

from artifactsvc.errors import Conflict
from artifactsvc.metadata import rows
from artifactsvc.metadata.database import AsyncDatabase, Connection
from artifactsvc.models import Artifact, Job, format_time

# True when artifact `a` (joined to its job's pipeline `p`) belongs to its ref's newest
# successful pipeline.
# COALESCE: with no successful pipeline the comparison must be false, not NULL, or a
# `NOT (...)` around it would hide expired rows from the sweeper.
# A child pipeline is locked with its parent (one level of nesting).
LOCKED = (
    "COALESCE(p.parent_pipeline_id, p.id) = COALESCE((SELECT MAX(p2.id) FROM pipelines p2"
    " WHERE p2.project_id = p.project_id AND p2.ref = p.ref AND p2.status = 'success'"
    " AND p2.parent_pipeline_id IS NULL), -1)"
)


def _live(keep_latest: bool) -> str:
    lock = f" OR {LOCKED}" if keep_latest else ""
    return f"(a.expire_at IS NULL OR a.expire_at > ?{lock})"


class SqlArtifacts:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def insert_artifact(self, artifact: Artifact) -> None:
        """One artifact per job and type, decided by the primary key in one statement: of
        uploads racing through any number of replicas exactly one inserts, the others get
        Conflict (a SELECT first would let two of them pass under READ COMMITTED)."""

        def run(conn: Connection) -> None:
            inserted = rows.insert_new(
                conn, "artifacts", rows.artifact_row(artifact), ("job_id", "file_type")
            )
            if not inserted:
                raise Conflict(f"job {artifact.job_id} already has a {artifact.file_type}")

        await self._db.write(run)

    async def artifacts_of(self, job_id: int) -> list[Artifact]:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT * FROM artifacts WHERE job_id = ?", (job_id,))
        )
        return [rows.artifact(row) for row in found]

    async def delete_artifacts(self, job_id: int) -> list[Artifact]:
        def run(conn: Connection) -> list[Artifact]:
            # Locked: of two deletes (or a delete and an erase) racing, the second waits and
            # then finds nothing, so each object is deleted by one caller only.
            found = conn.fetch(
                f"SELECT * FROM artifacts WHERE job_id = ?{conn.row_lock}", (job_id,)
            )
            conn.execute("DELETE FROM artifacts WHERE job_id = ?", (job_id,))
            return [rows.artifact(row) for row in found]

        return await self._db.write(run)

    async def delete_artifact_row(self, artifact: Artifact) -> bool:
        # Keyed on the object too: a row replaced meanwhile (a new upload) is left alone.
        changed = await self._db.write(
            lambda conn: conn.execute(
                "DELETE FROM artifacts WHERE job_id = ? AND file_type = ? AND object_key = ?",
                (artifact.job_id, artifact.file_type, artifact.object_key),
            )
        )
        return changed > 0

    async def set_artifacts_expiry(self, job_id: int, expire_at: datetime | None) -> int:
        return await self._db.write(
            lambda conn: conn.execute(
                "UPDATE artifacts SET expire_at = ? WHERE job_id = ?",
                (format_time(expire_at), job_id),
            )
        )

    async def latest_successful_pipeline_id(self, project_id: int, ref: str) -> int | None:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT MAX(id) AS id FROM pipelines WHERE project_id = ? AND ref = ?"
                " AND status = 'success' AND parent_pipeline_id IS NULL",
                (project_id, ref),
            )
        )
        value = found[0]["id"] if found else None
        return int(value) if value is not None else None

    async def ref_job(
        self,
        project_id: int,
        ref: str,
        name: str,
        *,
        recent: int | None,
        now: datetime,
        keep_latest: bool = True,
    ) -> Job | None:
        """GitLab's latest_successful_build_for_ref: in the ref's newest successful pipeline
        (with `recent`, in each of that many newest, newest first) and then its child
        pipelines of the same project, parent before child, the current (not retried) build
        of that name that still has a downloadable archive, whatever its status (a failed
        `allow_failure` job included)."""
        # The number of pipelines in the text, not a parameter (see `rows.limit_offset`):
        # one statement each for 1 and for RECENT_PIPELINES, each planned once.
        roots = rows.limit_offset(recent or 1, 0)
        sql = (
            "WITH RECURSIVE roots(id) AS ("
            "  SELECT id FROM pipelines WHERE project_id = ? AND ref = ? AND status = 'success'"
            f"  AND parent_pipeline_id IS NULL ORDER BY id DESC {roots}),"
            " family(root, id) AS ("
            "  SELECT id, id FROM roots"
            "  UNION ALL SELECT f.root, c.id FROM pipelines c JOIN family f"
            "  ON c.parent_pipeline_id = f.id WHERE c.project_id = ?),"
            " chosen(id) AS ("
            "  SELECT j.id FROM jobs j JOIN family f ON f.id = j.pipeline_id"
            "  JOIN pipelines p ON p.id = j.pipeline_id"  # for LOCKED
            "  WHERE j.name = ? AND j.kind = 'build' AND j.retried = 0"
            "  AND EXISTS (SELECT 1 FROM artifacts a WHERE a.job_id = j.id"
            f"  AND a.file_type = 'archive' AND {_live(keep_latest)})"
            "  ORDER BY f.root DESC, j.pipeline_id ASC, j.id DESC LIMIT 1)"
            f"{rows.JOB_ARTIFACTS_SELECT} WHERE j.id IN (SELECT id FROM chosen)"
            " ORDER BY a.file_type"
        )
        params = (project_id, ref, project_id, name, format_time(now))
        found = await self._db.query(sql, params, rows.joined_jobs)
        return found[0] if found else None

    async def expire_project_artifacts(
        self, project_id: int, now: datetime, *, keep_latest: bool
    ) -> int:
        lock = f" AND NOT ({LOCKED})" if keep_latest else ""
        stamp = format_time(now)
        return await self._db.write(
            lambda conn: conn.execute(
                "UPDATE artifacts SET expire_at = ? WHERE project_id = ?"
                " AND (expire_at IS NULL OR expire_at > ?) AND job_id IN ("
                "  SELECT j.id FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id"
                f"  WHERE j.project_id = ?{lock})",
                (stamp, project_id, stamp, project_id),
            )
        )

    async def expired_artifacts(
        self, now: datetime, *, keep_latest: bool, limit: int
    ) -> list[Artifact]:
        sql = (
            "SELECT a.* FROM artifacts a JOIN jobs j ON j.id = a.job_id"
            " JOIN pipelines p ON p.id = j.pipeline_id"
            f" WHERE NOT {_live(keep_latest)} ORDER BY a.expire_at LIMIT ?"
        )
        found = await self._db.read(lambda conn: conn.fetch(sql, (format_time(now), limit)))
        return [rows.artifact(row) for row in found]

    async def known_object_keys(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        marks = ", ".join("?" for _ in keys)
        found = await self._db.read(
            lambda conn: conn.fetch(
                f"SELECT object_key AS k FROM artifacts WHERE object_key IN ({marks})"
                f" UNION SELECT index_key AS k FROM artifacts WHERE index_key IN ({marks})",
                (*keys, *keys),
            )
        )
        return {row["k"] for row in found}

    async def set_artifact_index(
        self, artifact: Artifact, index_key: str, directory: bytes
    ) -> None:
        """Records a rebuilt index, unless the row meanwhile points at another object."""
        await self._db.write(
            lambda conn: conn.execute(
                "UPDATE artifacts SET index_key = ?, index_directory = ?"
                " WHERE job_id = ? AND file_type = ? AND object_key = ?",
                (index_key, directory, artifact.job_id, artifact.file_type, artifact.object_key),
            )
        )
