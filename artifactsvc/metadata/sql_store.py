"""`SqlMetadataStore`: every metadata part over one database, SQLite or PostgreSQL.

The queries are written once in portable SQL (`?` placeholders, ON CONFLICT upserts,
ISO-8601 text times), one module per part; the adapters in sqlite.py and postgres.py run
them. The parts are composed, not mixed in: each holds the same `AsyncDatabase`.
"""

from __future__ import annotations

from artifactsvc.metadata.database import AsyncDatabase, Connection
from artifactsvc.metadata.schema import SCHEMA_VERSION, statements
from artifactsvc.metadata.sql_artifacts import SqlArtifacts
from artifactsvc.metadata.sql_identities import SqlIdentities
from artifactsvc.metadata.sql_imports import SqlImports
from artifactsvc.metadata.sql_jobs import SqlJobs
from artifactsvc.metadata.sql_projects import SqlProjects
from artifactsvc.metadata.sql_traces import SqlTraces

# Replicas starting together must not race on CREATE TABLE.
MIGRATION_LOCK = 0x617274696661


class SqlMetadataStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self.identities = SqlIdentities(db)
        self.projects = SqlProjects(db)
        self.jobs = SqlJobs(db)
        self.traces = SqlTraces(db)
        self.artifacts = SqlArtifacts(db)
        self.imports = SqlImports(db)

    async def migrate(self) -> None:
        def run(conn: Connection) -> None:
            conn.lock(MIGRATION_LOCK)
            for statement in statements(self._db.blob_type):
                conn.execute(statement)
            if not conn.fetch("SELECT version FROM schema_version"):
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

        await self._db.write(run)

    async def ping(self) -> None:
        # Reads a table: `SELECT 1` would not even open SQLite's file, let alone check it.
        await self._db.read(lambda conn: conn.fetch("SELECT version FROM schema_version"))

    def close(self) -> None:
        self._db.close()
