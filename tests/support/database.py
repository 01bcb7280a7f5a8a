"""The database behind the service, read (and, for tests that damage rows on purpose, written)
without going through it: one statement at a time, `?` placeholders, on SQLite or PostgreSQL.

Rows come back as dicts (column -> value), binary columns as `bytes` on both adapters.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

POSTGRES_URL = os.environ.get(
    "ARTIFACTSVC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

Row = dict[str, Any]


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def query(database_url: str, statement: str, params: Sequence[Any] = ()) -> list[Row]:
    """Run one statement and return its rows (none for a statement that returns none)."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            cursor = conn.execute(statement, tuple(params))
            if cursor.description is None:
                return []
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, map(_plain, row), strict=True)) for row in cursor]
    with psycopg.connect(database_url, autocommit=True) as pg:
        found = pg.execute(statement.replace("?", "%s"), tuple(params))
        if found.description is None:
            return []
        names = [column.name for column in found.description]
        return [dict(zip(names, map(_plain, row), strict=True)) for row in found.fetchall()]


def execute(database_url: str, statement: str, params: Sequence[Any] = ()) -> None:
    """Run one statement that changes rows (committed at once)."""
    query(database_url, statement, params)


ARTIFACT_COLUMNS = (
    "job_id, file_type, object_key, etag, size, index_key, index_directory, expire_at"
)


def artifact_rows(database_url: str) -> list[Row]:
    """Every artifact row, by job and file type."""
    return query(
        database_url, f"SELECT {ARTIFACT_COLUMNS} FROM artifacts ORDER BY job_id, file_type"
    )


def artifact_row(database_url: str, job_id: int) -> Row:
    """The one archive row of `job_id`."""
    rows = query(
        database_url,
        f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE job_id = ? AND file_type = 'archive'",
        (job_id,),
    )
    assert len(rows) == 1, rows
    return rows[0]


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; yields a database URL whose search_path points at it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        _drop_schema(schema)


def _drop_schema(schema: str, attempts: int = 5) -> None:
    """DROP SCHEMA, again if PostgreSQL chose it as a deadlock's victim: autovacuum may be
    analyzing one of the schema's tables (it holds one and waits for another) while the DROP
    takes them all, and the detector then cancels one of the two (seen once in make test)."""
    for attempt in range(attempts):
        try:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
