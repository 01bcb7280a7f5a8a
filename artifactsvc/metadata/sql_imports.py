"""The import: every record of a validated file upserted in ONE transaction, so a bad row
imports nothing. Records become rows in rows.py; this module only orders the writes."""

from __future__ import annotations

import json

from artifactsvc.metadata import rows
from artifactsvc.metadata.database import AsyncDatabase, Connection
from artifactsvc.metadata.port import ImportBatch
from artifactsvc.metadata.sql_traces import replace_trace

IMPORTED_TABLES = (
    "users", "tokens", "projects", "members", "job_token_allowlist", "pipelines", "jobs",
    "job_traces", "job_trace_chunks", "artifacts",
)  # fmt: skip


class SqlImports:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def import_batch(self, batch: ImportBatch) -> None:
        def run(conn: Connection) -> None:
            for user in batch.users:
                rows.upsert(conn, "users", rows.user_row(user), ("id",))
            for token_hash, user_id, scopes in batch.tokens:
                token = {"token_hash": token_hash, "user_id": user_id, "scopes": json.dumps(scopes)}
                rows.upsert(conn, "tokens", token, ("token_hash",))
            for project in batch.projects:
                rows.upsert(conn, "projects", rows.project_row(project), ("id",))
            for member in batch.members:
                membership = {
                    "project_id": member.project_id,
                    "user_id": member.user_id,
                    "access_level": member.access_level,
                }
                rows.upsert(conn, "members", membership, ("project_id", "user_id"))
            for project_id, allowed in batch.allowlist:
                entry = {"project_id": project_id, "allowed_project_id": allowed}
                rows.upsert(
                    conn, "job_token_allowlist", entry, ("project_id", "allowed_project_id")
                )
            for pipeline in batch.pipelines:
                rows.upsert(conn, "pipelines", rows.pipeline_row(pipeline), ("id",))
            for job in batch.jobs:
                row = rows.job_row(job, batch.job_tokens.get(job.id))
                rows.upsert(conn, "jobs", row, ("id",))
            for job_id, content in batch.traces:
                replace_trace(conn, job_id, content)
            for artifact in batch.artifacts:
                rows.upsert(conn, "artifacts", rows.artifact_row(artifact), ("job_id", "file_type"))
            # A bulk import leaves the planner without statistics (PostgreSQL's autovacuum
            # gets to them minutes later): without them a keyset page over a million jobs
            # took 1.4-1.8 s instead of milliseconds. ANALYZE counts this transaction's own
            # rows, and both dialects spell it the same. Only the tables an import fills: a
            # bare ANALYZE takes every table of the database, another application's (or
            # another schema's) too, and deadlocked with a DROP SCHEMA of one of them.
            for table in IMPORTED_TABLES:
                conn.execute(f"ANALYZE {table}")

        await self._db.write(run)
