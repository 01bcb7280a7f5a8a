"""SQLite adapter: the embedded default. One connection per worker thread, WAL journal.

Writes take the database lock up front (BEGIN IMMEDIATE) so that two writers never both
read-then-upgrade and deadlock; readers never block writers under WAL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from artifactsvc.errors import Conflict, MetadataUnavailable
from artifactsvc.metadata.database import Connection, Params, Row

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000


class SqliteConnection:
    # Writes begin with BEGIN IMMEDIATE: one writer at a time already, so no lock is needed.
    row_lock = ""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    def lock(self, name: int) -> None:
        pass

    def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = self._raw.execute(sql, tuple(params))
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._raw.execute(sql, tuple(params)).rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._raw.executemany(sql, [tuple(row) for row in rows])


class SqliteDatabase:
    blob_type = "BLOB"

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise MetadataUnavailable(
                    f"sqlite: cannot create {Path(path).parent}: {error.strerror}"
                ) from error
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        raw: sqlite3.Connection | None = getattr(self._local, "raw", None)
        if raw is None:
            raw = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            _use_wal(raw)
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute("PRAGMA synchronous=NORMAL")
            self._local.raw = raw
            with self._lock:
                self._all.append(raw)
        return raw

    def transaction(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        with _errors():
            raw = self._connection()
            raw.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = fn(SqliteConnection(raw))
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
            return result

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        # The connection is in autocommit mode (isolation_level=None): the statement is its
        # own transaction.
        with _errors():
            return SqliteConnection(self._connection()).fetch(sql, params)

    def close(self) -> None:
        with self._lock:
            for raw in self._all:
                raw.close()
            self._all.clear()


def _use_wal(raw: sqlite3.Connection) -> None:
    """WAL is the file's own mode: set once, by its first connection. Setting it again while
    another connection writes fails at once with "database is locked" (the mode change does
    not wait on the busy timeout), which four replicas migrating a new file together met
    (tests/test_migrations.py): so it is asked first, and set, retried, only when missing."""
    if raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            raw.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """sqlite3's errors as the store's: a conflict, or the store unavailable."""
    try:
        yield
    except sqlite3.IntegrityError as error:
        raise Conflict(f"sqlite: {error}") from error
    except sqlite3.OperationalError as error:
        raise MetadataUnavailable(f"sqlite: {error}") from error
    except sqlite3.DatabaseError as error:
        if type(error) is not sqlite3.DatabaseError:
            raise  # ProgrammingError, DataError...: a bug here, not an unavailable store
        # "file is not a database", "database disk image is malformed"
        raise MetadataUnavailable(f"sqlite: {error}") from error


def sqlite_path(database_url: str) -> str:
    """`sqlite:///relative.db` -> `relative.db`; `sqlite:////abs.db` -> `/abs.db`."""
    return database_url.removeprefix("sqlite:///")
