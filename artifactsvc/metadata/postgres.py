"""PostgreSQL adapter (psycopg 3) for several replicas sharing one metadata store."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from artifactsvc.errors import Conflict, MetadataUnavailable, UnstorableValue
from artifactsvc.metadata.database import Connection, Params, Row

T = TypeVar("T")


def _placeholders(sql: str) -> str:
    # The shared queries use `?`; none of them contains a literal `?` or `%`.
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresConnection:
    row_lock = " FOR UPDATE"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self._raw = raw

    def lock(self, name: int) -> None:
        # Released at commit or rollback; replicas share it through the database.
        self.fetch("SELECT pg_advisory_xact_lock(?)", (name,))

    def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        with self._raw.cursor(row_factory=dict_row) as cursor:
            cursor.execute(_placeholders(sql), tuple(params))
            # Whether the statement returned rows, asked of the result itself:
            # `cursor.description` builds a Column (type lookups included) for each of a
            # job's ~60 columns on every call, about a third of a job read's client CPU.
            result = cursor.pgresult
            return list(cursor.fetchall()) if result is not None and result.nfields else []

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._raw.cursor() as cursor:
            cursor.execute(_placeholders(sql), tuple(params))
            return cursor.rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self._raw.cursor() as cursor:
            cursor.executemany(_placeholders(sql), [tuple(row) for row in rows])


class PostgresDatabase:
    blob_type = "BYTEA"

    def __init__(self, url: str, *, max_size: int = 8, timeout: float = 10.0) -> None:
        self._pool = ConnectionPool(
            url,
            min_size=0,
            max_size=max_size,
            timeout=timeout,
            open=True,
            # Transactions are explicit (`raw.transaction()`, BEGIN ... COMMIT); a lone
            # `query` is one statement, so one round trip rather than three.
            kwargs={"connect_timeout": int(timeout), "autocommit": True},
        )

    def transaction(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        with _errors(), self._pool.connection() as raw, raw.transaction():
            return fn(PostgresConnection(raw))

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        with _errors(), self._pool.connection() as raw:
            return PostgresConnection(raw).fetch(sql, params)

    def close(self) -> None:
        self._pool.close()


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """psycopg's errors as the store's: a conflict, bad input, or the store unavailable."""
    try:
        yield
    except psycopg.IntegrityError as error:
        raise Conflict(f"postgresql: {_first_line(error)}") from error
    except psycopg.DataError as error:
        # A value PostgreSQL cannot hold (a NUL in text, a number out of range): bad input.
        raise UnstorableValue() from error
    except (psycopg.OperationalError, psycopg.InterfaceError) as error:
        # PoolTimeout is an OperationalError too: no connection within the timeout.
        raise MetadataUnavailable(f"postgresql: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    """psycopg appends DETAIL/HINT lines; error messages here are one line (the CLI prints them)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
