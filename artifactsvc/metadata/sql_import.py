"""Writes shared by import and the artifact queries: upserts that work in both dialects.

`INSERT ... ON CONFLICT (key) DO UPDATE SET col = excluded.col` reads the same in SQLite
(3.24+) and PostgreSQL; the whole import is one transaction, so a bad row imports nothing.
"""

from __future__ import annotations

from typing import Any

from artifactsvc.metadata.database import AsyncDatabase, Connection
from artifactsvc.metadata.port import ImportBatch
from artifactsvc.models import Artifact, format_time


class ImportQueries:
    _db: AsyncDatabase

    # -- import ------------------------------------------------------------------------------

    async def import_batch(self, batch: ImportBatch) -> None:
        def run(conn: Connection) -> None:
            for user in batch.users:
                upsert(conn, "users", user, ("id",))
            for token_hash, user_id in batch.tokens:
                upsert(
                    conn, "tokens", {"token_hash": token_hash, "user_id": user_id}, ("token_hash",)
                )
            for project in batch.projects:
                upsert(conn, "projects", project, ("id",))
            for project_id, user_id, level in batch.members:
                upsert(
                    conn,
                    "members",
                    {"project_id": project_id, "user_id": user_id, "access_level": level},
                    ("project_id", "user_id"),
                )
            for project_id, allowed in batch.allowlist:
                upsert(
                    conn,
                    "job_token_allowlist",
                    {"project_id": project_id, "allowed_project_id": allowed},
                    ("project_id", "allowed_project_id"),
                )
            for pipeline in batch.pipelines:
                upsert(conn, "pipelines", pipeline, ("id",))
            for job in batch.jobs:
                upsert(conn, "jobs", job, ("id",))
            for job_id, content in batch.traces:
                upsert(conn, "job_traces", {"job_id": job_id, "content": content}, ("job_id",))
            for artifact in batch.artifacts:
                upsert_artifact(conn, artifact)

        await self._db.write(run)


def upsert_artifact(conn: Connection, artifact: Artifact) -> None:
    upsert(
        conn,
        "artifacts",
        {
            "job_id": artifact.job_id,
            "file_type": artifact.file_type,
            "project_id": artifact.project_id,
            "file_format": artifact.file_format,
            "filename": artifact.filename,
            "size": artifact.size,
            "object_key": artifact.object_key,
            "etag": artifact.etag,
            "sha256": artifact.sha256,
            "expire_at": format_time(artifact.expire_at),
            "created_at": format_time(artifact.created_at),
            "index_key": artifact.index_key,
            "index_directory": artifact.index_directory,
        },
        ("job_id", "file_type"),
    )


def upsert(conn: Connection, table: str, row: dict[str, Any], key: tuple[str, ...]) -> None:
    columns = list(row)
    updates = [column for column in columns if column not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{column} = excluded.{column}" for column in updates)
        if updates
        else "DO NOTHING"
    )
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        f" ON CONFLICT ({', '.join(key)}) {action}",
        [db_value(value) for value in row.values()],
    )


def db_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "isoformat"):
        return format_time(value)
    return value
