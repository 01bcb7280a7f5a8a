"""Pipelines and jobs: lookups, lists, state changes and the retry that creates a job."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from artifactsvc.errors import JobNotFound
from artifactsvc.metadata import rows
from artifactsvc.metadata.database import AsyncDatabase, Connection
from artifactsvc.metadata.port import NewJob
from artifactsvc.models import Job, JobQuery, Pipeline, PipelineQuery, format_time

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
                f"{rows.PIPELINE_SELECT} WHERE p.project_id = ? AND p.id = ?",
                (project_id, pipeline_id),
            )
        )
        return rows.pipeline(found[0]) if found else None

    async def pipeline_by_id(self, pipeline_id: int) -> Pipeline | None:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT * FROM pipelines WHERE id = ?", (pipeline_id,))
        )
        return rows.pipeline(found[0]) if found else None

    async def pipelines(self, query: PipelineQuery, offset: int, limit: int) -> list[Pipeline]:
        where, params = _pipeline_filter(query)
        # `id` breaks ties, so a page boundary never splits equal sort keys unpredictably.
        order = f"p.{query.order_by} {query.sort.upper()}, p.id {query.sort.upper()}"
        page = rows.limit_offset(limit, offset)
        sql = f"{rows.PIPELINE_SELECT} WHERE {where} ORDER BY {order} {page}"
        found = await self._db.read(lambda conn: conn.fetch(sql, params))
        return [rows.pipeline(row) for row in found]

    async def count_pipelines(self, query: PipelineQuery) -> int:
        where, params = _pipeline_filter(query)
        found = await self._db.read(
            lambda conn: conn.fetch(f"SELECT COUNT(*) AS n FROM pipelines p WHERE {where}", params)
        )
        return int(found[0]["n"])

    async def latest_pipeline(self, project_id: int, ref: str) -> Pipeline | None:
        """The ref's newest pipeline that is not a child (GitLab: the newest for the ref's
        head commit; this service keeps no repository, so the newest for the ref)."""
        found = await self._db.read(
            lambda conn: conn.fetch(
                f"{rows.PIPELINE_SELECT} WHERE p.project_id = ? AND p.ref = ?"
                " AND p.parent_pipeline_id IS NULL ORDER BY p.id DESC LIMIT 1",
                (project_id, ref),
            )
        )
        return rows.pipeline(found[0]) if found else None

    # -- jobs --------------------------------------------------------------------------------

    async def job(self, project_id: int, job_id: int) -> Job | None:
        return await self._one_job("j.project_id = ? AND j.id = ?", (project_id, job_id))

    async def job_by_id(self, job_id: int) -> Job | None:
        return await self._one_job("j.id = ?", (job_id,))

    async def jobs(self, query: JobQuery, offset: int, limit: int) -> list[Job]:
        where, params = _job_filter(query)
        # Newest first, a pipeline's jobs too (GitLab's JobsFinder orders by id desc). The
        # page is chosen among jobs alone, then joined with their artifacts.
        sql = (
            f"{rows.JOB_ARTIFACTS_SELECT} WHERE j.id IN (SELECT j.id FROM jobs j WHERE {where}"
            f" ORDER BY j.id DESC {rows.limit_offset(limit, offset)}) ORDER BY j.id DESC,"
            " a.file_type"
        )
        return await self._db.query(sql, params, rows.joined_jobs)

    async def count_jobs(self, query: JobQuery) -> int:
        where, params = _job_filter(query)
        found = await self._db.read(
            lambda conn: conn.fetch(f"SELECT COUNT(*) AS n FROM jobs j WHERE {where}", params)
        )
        return int(found[0]["n"])

    async def update_job(
        self,
        job_id: int,
        changes: dict[str, Any],
        *,
        statuses: Collection[str] | None = None,
        unerased: bool = False,
    ) -> bool:
        unknown = set(changes) - JOB_COLUMNS
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        values = [rows.db_value(value) for value in changes.values()]
        where, params = _guard(job_id, statuses, unerased=unerased, unretried=False)
        guarded = statuses is not None or unerased

        def run(conn: Connection) -> bool:
            changed = conn.execute(
                f"UPDATE jobs SET {assignments} WHERE {where}", (*values, *params)
            )
            if changed == 0 and not guarded:
                raise JobNotFound(str(job_id))
            return changed > 0

        return await self._db.write(run)

    async def retry_job(
        self, old_job_id: int, new_job: NewJob, *, statuses: Collection[str]
    ) -> int | None:
        where, params = _guard(old_job_id, statuses, unerased=False, unretried=True)

        def run(conn: Connection) -> int | None:
            # The conditional UPDATE is the decision: a concurrent retry of the same job waits
            # on its row lock and then finds it retried already (0 rows).
            if conn.execute(f"UPDATE jobs SET retried = 1 WHERE {where}", params) == 0:
                return None
            conn.lock(NEW_JOB_LOCK)
            next_id = int(conn.fetch("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM jobs")[0]["n"])
            conn.execute(
                "INSERT INTO jobs (id, project_id, pipeline_id, name, stage, status, kind, when_,"
                " allow_failure, user_id, token_hash, tag_list, created_at, queued_at,"
                " downstream_pipeline_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    next_id,
                    new_job.project_id,
                    new_job.pipeline_id,
                    new_job.name,
                    new_job.stage,
                    new_job.status,
                    new_job.kind,
                    new_job.when,
                    int(new_job.allow_failure),
                    new_job.user_id,
                    new_job.token_hash,
                    json.dumps(list(new_job.tag_list)),
                    format_time(new_job.created_at),
                    format_time(new_job.created_at),
                    new_job.downstream_pipeline_id,
                ),
            )
            return next_id

        return await self._db.write(run)

    async def _one_job(self, where: str, params: Sequence[Any]) -> Job | None:
        sql = f"{rows.JOB_ARTIFACTS_SELECT} WHERE {where} ORDER BY a.file_type"
        found = await self._db.query(sql, params, rows.joined_jobs)
        return found[0] if found else None


def _guard(
    job_id: int, statuses: Collection[str] | None, *, unerased: bool, unretried: bool
) -> tuple[str, list[Any]]:
    """The WHERE of a conditional transition: the row changes only if it is still in a state
    the transition starts from, so of two racing transitions one changes it."""
    clauses: list[str] = ["id = ?"]
    params: list[Any] = [job_id]
    if statuses is not None:
        clauses.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(sorted(statuses))
    if unerased:
        clauses.append("erased_at IS NULL")
    if unretried:
        clauses.append("retried = 0")
    return " AND ".join(clauses), params


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


def _pipeline_filter(query: PipelineQuery) -> tuple[str, list[Any]]:
    clauses = ["p.project_id = ?"]
    params: list[Any] = [query.project_id]

    def where(clause: str, *values: Any) -> None:
        clauses.append(clause)
        params.extend(values)

    if query.source != "parent_pipeline":
        where("p.parent_pipeline_id IS NULL")
    if query.scope in ("running", "pending"):
        where("p.status = ?", query.scope)
    elif query.scope == "finished":
        where("p.status IN ('success', 'failed', 'canceled')")
    elif query.scope in ("branches", "tags"):
        # The newest pipeline of each branch (or tag) ref.
        where(
            "p.id IN (SELECT MAX(b.id) FROM pipelines b WHERE b.project_id = ? AND b.tag = ?"
            " GROUP BY b.ref)",
            query.project_id,
            int(query.scope == "tags"),
        )
    for column in ("status", "ref", "sha", "source", "name", "user_id"):
        value = getattr(query, column)
        if value is not None:
            where(f"p.{column} = ?", value)
    if query.yaml_errors is not None:
        where("p.yaml_errors IS NOT NULL" if query.yaml_errors else "p.yaml_errors IS NULL")
    for column, bound in (("updated", "before"), ("updated", "after"), ("created", "before"),
                          ("created", "after")):  # fmt: skip
        value = getattr(query, f"{column}_{bound}")
        if value is not None:
            where(f"p.{column}_at {'<' if bound == 'before' else '>'} ?", format_time(value))
    return " AND ".join(clauses), params
