"""`SqlMetadataStore`: the MetadataStore port over SQLite or PostgreSQL.

The queries are written once in portable SQL (`?` placeholders, ON CONFLICT upserts,
ISO-8601 text times); the adapters in sqlite.py and postgres.py run them.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from typing import Any

from artifactsvc.errors import JobNotFound, RangeNotSatisfiable
from artifactsvc.metadata import rows
from artifactsvc.metadata.database import AsyncDatabase, Connection, Row
from artifactsvc.metadata.port import JobQuery, NewJob
from artifactsvc.metadata.schema import SCHEMA_VERSION, statements
from artifactsvc.metadata.sql_artifacts import ArtifactQueries
from artifactsvc.metadata.sql_import import ImportQueries, db_value
from artifactsvc.models import Artifact, Job, Pipeline, Project, User, format_time

# Columns `update_job` may change; anything else is a programming error.
JOB_COLUMNS = frozenset(
    {
        "status",
        "started_at",
        "finished_at",
        "erased_at",
        "queued_at",
        "failure_reason",
        "retried",
        "user_id",
        "coverage",
        "token_hash",
        "when_",
    }
)


class SqlMetadataStore(ArtifactQueries, ImportQueries):
    def __init__(self, db: AsyncDatabase, *, blob_type: str) -> None:
        self._db = db
        self._blob_type = blob_type

    # -- lifecycle ---------------------------------------------------------------------------

    async def migrate(self) -> None:
        def run(conn: Connection) -> None:
            if conn.dialect == "postgresql":
                # Replicas starting together must not race on CREATE TABLE.
                conn.fetch("SELECT pg_advisory_xact_lock(?)", (0x617274696661,))
            for statement in statements(self._blob_type):
                conn.execute(statement)
            if not conn.fetch("SELECT version FROM schema_version"):
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

        await self._db.write(run)

    async def ping(self) -> None:
        # Reads a table: `SELECT 1` would not even open SQLite's file, let alone check it.
        await self._db.read(lambda conn: conn.fetch("SELECT version FROM schema_version"))

    def close(self) -> None:
        self._db.close()

    # -- identity and access -----------------------------------------------------------------

    async def user_by_token_hash(self, token_hash: str) -> User | None:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT u.*, t.token_hash AS digest FROM tokens t JOIN users u ON u.id = t.user_id"
                " WHERE t.token_hash = ?",
                (token_hash,),
            )
        )
        # Re-checked in constant time: the index lookup is not the last word on a secret.
        if found and hmac.compare_digest(found[0]["digest"], token_hash):
            return rows.user(found[0])
        return None

    async def job_by_token_hash(self, token_hash: str) -> Job | None:
        def run(conn: Connection) -> list[Job]:
            found = conn.fetch(f"{rows.JOB_SELECT} WHERE j.token_hash = ?", (token_hash,))
            matching = [row for row in found if hmac.compare_digest(row["token_hash"], token_hash)]
            return _with_artifacts(conn, matching)

        jobs = await self._db.read(run)
        return jobs[0] if jobs else None

    async def user_by_username(self, username: str) -> User | None:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT * FROM users WHERE username = ?", (username,))
        )
        return rows.user(found[0]) if found else None

    async def member_level(self, project_id: int, user_id: int) -> int | None:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT access_level FROM members WHERE project_id = ? AND user_id = ?",
                (project_id, user_id),
            )
        )
        return int(found[0]["access_level"]) if found else None

    async def job_token_allowed(self, project_id: int, source_project_id: int) -> bool:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT 1 AS ok FROM job_token_allowlist"
                " WHERE project_id = ? AND allowed_project_id = ?",
                (project_id, source_project_id),
            )
        )
        return bool(found)

    # -- projects and pipelines --------------------------------------------------------------

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

    async def pipeline(self, project_id: int, pipeline_id: int) -> Pipeline | None:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT * FROM pipelines WHERE project_id = ? AND id = ?", (project_id, pipeline_id)
            )
        )
        return rows.pipeline(found[0]) if found else None

    async def pipeline_by_id(self, pipeline_id: int) -> Pipeline | None:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT * FROM pipelines WHERE id = ?", (pipeline_id,))
        )
        return rows.pipeline(found[0]) if found else None

    async def pipelines(self, project_id: int, offset: int, limit: int) -> list[Pipeline]:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT * FROM pipelines WHERE project_id = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                (project_id, limit, offset),
            )
        )
        return [rows.pipeline(row) for row in found]

    async def count_pipelines(self, project_id: int) -> int:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT COUNT(*) AS n FROM pipelines WHERE project_id = ?", (project_id,)
            )
        )
        return int(found[0]["n"])

    # -- jobs --------------------------------------------------------------------------------

    async def job(self, project_id: int, job_id: int) -> Job | None:
        return await self._one_job("j.project_id = ? AND j.id = ?", (project_id, job_id))

    async def job_by_id(self, job_id: int) -> Job | None:
        return await self._one_job("j.id = ?", (job_id,))

    async def jobs(self, query: JobQuery, offset: int, limit: int) -> list[Job]:
        where, params = _job_filter(query)
        # Project lists are newest first (GitLab's contract); a pipeline's jobs in creation order.
        order = "ASC" if query.pipeline_id is not None else "DESC"
        sql = f"{rows.JOB_SELECT} WHERE {where} ORDER BY j.id {order} LIMIT ? OFFSET ?"
        return await self._db.read(
            lambda conn: _with_artifacts(conn, conn.fetch(sql, (*params, limit, offset)))
        )

    async def count_jobs(self, query: JobQuery) -> int:
        where, params = _job_filter(query)
        found = await self._db.read(
            lambda conn: conn.fetch(f"SELECT COUNT(*) AS n FROM jobs j WHERE {where}", params)
        )
        return int(found[0]["n"])

    async def update_job(self, job_id: int, changes: dict[str, Any]) -> None:
        unknown = set(changes) - JOB_COLUMNS
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        values = [db_value(value) for value in changes.values()]

        def run(conn: Connection) -> None:
            if conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values, job_id)) == 0:
                raise JobNotFound(str(job_id))

        await self._db.write(run)

    async def retry_job(self, old_job_id: int, new_job: NewJob) -> int:
        def run(conn: Connection) -> int:
            if conn.dialect == "postgresql":
                # Concurrent retries (or replicas) must not both take the same MAX(id) + 1;
                # SQLite's BEGIN IMMEDIATE already serializes writers.
                conn.fetch("SELECT pg_advisory_xact_lock(?)", (0x6A6F6269640A,))
            next_id = int(conn.fetch("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM jobs")[0]["n"])
            conn.execute(
                "INSERT INTO jobs (id, project_id, pipeline_id, name, stage, status, kind, when_,"
                " allow_failure, user_id, token_hash, tag_list, created_at, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'build', ?, ?, ?, ?, ?, ?, ?)",
                (
                    next_id,
                    new_job.project_id,
                    new_job.pipeline_id,
                    new_job.name,
                    new_job.stage,
                    new_job.status,
                    new_job.when,
                    int(new_job.allow_failure),
                    new_job.user_id,
                    new_job.token_hash,
                    json.dumps(list(new_job.tag_list)),
                    format_time(new_job.created_at),
                    format_time(new_job.created_at),
                ),
            )
            conn.execute("UPDATE jobs SET retried = 1 WHERE id = ?", (old_job_id,))
            return next_id

        return await self._db.write(run)

    async def _one_job(self, where: str, params: Sequence[Any]) -> Job | None:
        found = await self._db.read(
            lambda conn: _with_artifacts(
                conn, conn.fetch(f"{rows.JOB_SELECT} WHERE {where}", params)
            )
        )
        return found[0] if found else None

    # -- traces ------------------------------------------------------------------------------

    async def trace(self, job_id: int) -> bytes | None:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT content FROM job_traces WHERE job_id = ?", (job_id,))
        )
        return bytes(found[0]["content"]) if found else None

    async def append_trace(self, job_id: int, start: int, data: bytes) -> int:
        def run(conn: Connection) -> int:
            lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
            found = conn.fetch(f"SELECT content FROM job_traces WHERE job_id = ?{lock}", (job_id,))
            current = bytes(found[0]["content"]) if found else b""
            if start != len(current):
                raise RangeNotSatisfiable(len(current))
            content = current + data
            conn.execute(
                "INSERT INTO job_traces (job_id, content) VALUES (?, ?)"
                " ON CONFLICT (job_id) DO UPDATE SET content = excluded.content",
                (job_id, content),
            )
            return len(content)

        return await self._db.write(run)

    async def delete_trace(self, job_id: int) -> None:
        await self._db.write(
            lambda conn: conn.execute("DELETE FROM job_traces WHERE job_id = ?", (job_id,))
        )


def _job_filter(query: JobQuery) -> tuple[str, list[Any]]:
    clauses = ["j.project_id = ?", "j.kind = ?"]
    params: list[Any] = [query.project_id, query.kind]
    if query.pipeline_id is not None:
        clauses.append("j.pipeline_id = ?")
        params.append(query.pipeline_id)
    if query.statuses:
        clauses.append(f"j.status IN ({', '.join('?' for _ in query.statuses)})")
        params.extend(query.statuses)
    if not query.include_retried:
        clauses.append("j.retried = 0")
    if query.before_id is not None:
        clauses.append("j.id < ?")
        params.append(query.before_id)
    return " AND ".join(clauses), params


def _with_artifacts(conn: Connection, job_rows: list[Row]) -> list[Job]:
    if not job_rows:
        return []
    ids = [row["id"] for row in job_rows]
    found = conn.fetch(
        f"SELECT * FROM artifacts WHERE job_id IN ({', '.join('?' for _ in ids)})"
        " ORDER BY job_id, file_type",
        ids,
    )
    by_job: dict[int, list[Artifact]] = {}
    for row in found:
        by_job.setdefault(int(row["job_id"]), []).append(rows.artifact(row))
    return [rows.job(row, by_job.get(int(row["id"]), ())) for row in job_rows]
