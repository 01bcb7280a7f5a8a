"""Metadata store: the port (port.py), the shared SQL (sql.py) and its two database adapters."""

from __future__ import annotations

from artifactsvc.metadata.database import AsyncDatabase
from artifactsvc.metadata.port import ImportBatch, JobQuery, MetadataStore, NewJob
from artifactsvc.metadata.sql import SqlMetadataStore

__all__ = ["ImportBatch", "JobQuery", "MetadataStore", "NewJob", "open_metadata_store"]


def open_metadata_store(database_url: str, *, threads: int = 8) -> SqlMetadataStore:
    """The store named by ARTIFACTSVC_DATABASE_URL (SQLAlchemy's URL convention)."""
    if database_url.startswith("sqlite:///"):
        from artifactsvc.metadata.sqlite import SqliteDatabase, sqlite_path

        sqlite = SqliteDatabase(sqlite_path(database_url))
        return SqlMetadataStore(AsyncDatabase(sqlite, threads=threads), blob_type=sqlite.blob_type)
    from artifactsvc.metadata.postgres import PostgresDatabase

    url = database_url.replace("postgres://", "postgresql://", 1)
    postgres = PostgresDatabase(url, max_size=threads)
    return SqlMetadataStore(AsyncDatabase(postgres, threads=threads), blob_type=postgres.blob_type)
