"""Metadata: the ports by role (port.py), the shared SQL (sql_*.py) and two database adapters."""

from __future__ import annotations

from artifactsvc.metadata.database import Around, AsyncDatabase
from artifactsvc.metadata.port import (
    ArtifactStore,
    IdentityStore,
    ImportBatch,
    ImportStore,
    JobStore,
    Membership,
    MetadataStore,
    NewJob,
    ProjectStore,
    StoredArtifact,
    TraceStore,
    TypeUsage,
    UsageStore,
)
from artifactsvc.metadata.sql_store import SqlMetadataStore
from artifactsvc.models import JobQuery

__all__ = [
    "ArtifactStore",
    "IdentityStore",
    "ImportBatch",
    "ImportStore",
    "JobQuery",
    "JobStore",
    "Membership",
    "MetadataStore",
    "NewJob",
    "ProjectStore",
    "StoredArtifact",
    "TraceStore",
    "TypeUsage",
    "UsageStore",
    "open_metadata_store",
]


def open_metadata_store(
    database_url: str, *, threads: int = 8, around: Around | None = None
) -> SqlMetadataStore:
    """The store named by ARTIFACTSVC_DATABASE_URL (SQLAlchemy's URL convention); `around`
    wraps each transaction (tracing)."""
    if database_url.startswith("sqlite:///"):
        from artifactsvc.metadata.sqlite import SqliteDatabase, sqlite_path

        return SqlMetadataStore(
            AsyncDatabase(SqliteDatabase(sqlite_path(database_url)), threads=threads, around=around)
        )
    from artifactsvc.metadata.postgres import PostgresDatabase

    url = database_url.replace("postgres://", "postgresql://", 1)
    database = PostgresDatabase(url, max_size=threads)
    return SqlMetadataStore(AsyncDatabase(database, threads=threads, around=around))
