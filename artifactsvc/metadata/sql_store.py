"""`SqlMetadataStore`: every metadata part over one database, SQLite or PostgreSQL.

The queries are written once in portable SQL (`?` placeholders, ON CONFLICT upserts,
ISO-8601 text times), one module per part; the adapters in sqlite.py and postgres.py run
them. The parts are composed, not mixed in: each holds the same `AsyncDatabase`.
"""

from __future__ import annotations

from artifactsvc.metadata import migrations
from artifactsvc.metadata.database import AsyncDatabase
from artifactsvc.metadata.sql_artifacts import SqlArtifacts
from artifactsvc.metadata.sql_identities import SqlIdentities
from artifactsvc.metadata.sql_imports import SqlImports
from artifactsvc.metadata.sql_jobs import SqlJobs
from artifactsvc.metadata.sql_projects import SqlProjects
from artifactsvc.metadata.sql_traces import SqlTraces
from artifactsvc.metadata.sql_usage import SqlUsage


class SqlMetadataStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self.identities = SqlIdentities(db)
        self.projects = SqlProjects(db)
        self.jobs = SqlJobs(db)
        self.traces = SqlTraces(db)
        self.artifacts = SqlArtifacts(db)
        self.imports = SqlImports(db)
        self.usage = SqlUsage(db)

    async def migrate(self, *, target: int = migrations.LATEST) -> list[int]:
        """Brings the schema up to `target` (the latest by default); the versions applied."""
        return await self._db.write(
            lambda conn: migrations.migrate(conn, self._db.blob_type, target=target)
        )

    async def schema_version(self) -> int:
        return await self._db.write(migrations.applied_version)

    async def ping(self) -> None:
        # Reads a table: `SELECT 1` would not even open SQLite's file, let alone check it.
        await self._db.read(lambda conn: conn.fetch("SELECT version FROM schema_version"))

    def close(self) -> None:
        self._db.close()
