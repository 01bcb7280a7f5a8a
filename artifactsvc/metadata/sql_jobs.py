"""Pipelines and jobs: lookups, lists, state changes and the retry that creates a job."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from artifactsvc.errors import JobNotFound
from artifactsvc.metadata import rows
from artifactsvc.metadata.database import AsyncDatabase, Connection
from artifactsvc.metadata.port import NewJob
from artifactsvc.models import Job, JobQuery, Pipeline, format_time

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
# Serializes job creation: concurrent retries (or replicas) must not take the same id.
NEW_JOB_LOCK = 0x6A6F6269640A


class SqlJobs:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    # -- pipelines ---------------------------------------------------------------------------

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
            lambda conn: rows.jobs_with_artifacts(conn, conn.fetch(sql, (*params, limit, offset)))
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
        values = [rows.db_value(value) for value in changes.values()]

        def run(conn: Connection) -> None:
            if conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values, job_id)) == 0:
                raise JobNotFound(str(job_id))

        await self._db.write(run)

    async def retry_job(self, old_job_id: int, new_job: NewJob) -> int:
        def run(conn: Connection) -> int:
            conn.lock(NEW_JOB_LOCK)
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
            lambda conn: rows.jobs_with_artifacts(
                conn, conn.fetch(f"{rows.JOB_SELECT} WHERE {where}", params)
            )
        )
        return found[0] if found else None


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
