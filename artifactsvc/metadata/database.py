"""The seam between the SQL store and a database driver.

`Database` runs a function with a connection on a dedicated thread pool (never on the event
loop), inside one transaction. `Connection` is the tiny surface the queries use; both
adapters (sqlite.py, postgres.py) provide it, translating `?` placeholders and driver errors.
What differs between the dialects (locks, row locks, the blob type) is asked of this seam, so
the shared SQL never tests which database it runs on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

from artifactsvc.metadata.workers import Workers

T = TypeVar("T")
Row = dict[str, Any]
Params = Sequence[Any]
# Around each transaction, on the event loop (a trace span: tracing.Tracing.metadata), given
# "read" or "write" and the name of the function the transaction runs.
Around = Callable[[str, str], AbstractContextManager[None]]


class Connection(Protocol):
    row_lock: str
    """Appended to a SELECT that must lock the rows it reads until the transaction ends
    (" FOR UPDATE"); empty where write transactions are serialized anyway (SQLite)."""

    def lock(self, name: int) -> None:
        """Serializes the rest of this transaction against every other holding `name`."""
        ...

    def fetch(self, sql: str, params: Params = ()) -> list[Row]: ...

    def execute(self, sql: str, params: Params = ()) -> int:
        """Runs a statement; returns the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...


class Database(Protocol):
    blob_type: str  # the column type of byte strings in the shared schema

    def transaction(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """Runs `fn` in one transaction on the calling thread (blocking)."""
        ...

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """One SELECT on its own, without BEGIN and COMMIT, on the calling thread (blocking).

        A single statement reads one snapshot in both databases, so a read that is one
        statement needs no explicit transaction; leaving it out saves two statements (two
        round trips on PostgreSQL; on SQLite two more releases of the GIL, each a thread
        switch when the event loop is busy)."""
        ...

    def close(self) -> None: ...


class AsyncDatabase:
    """Runs blocking transactions on a thread pool sized for the database, off the event loop."""

    def __init__(
        self, database: Database, *, threads: int = 8, around: Around | None = None
    ) -> None:
        self.database = database
        self.blob_type = database.blob_type
        self._workers = Workers(threads, name="metadata")
        self._around = around

    def _span(self, kind: str, fn: Callable[..., Any]) -> AbstractContextManager[None]:
        if self._around is None:
            return contextlib.nullcontext()
        return self._around(kind, getattr(fn, "__qualname__", type(fn).__name__))

    async def read(self, fn: Callable[[Connection], T]) -> T:
        with self._span("read", fn):
            return await self._workers.run(lambda: self.database.transaction(fn, write=False))

    async def query(self, sql: str, params: Params, build: Callable[[list[Row]], T]) -> T:
        """`build(rows)` of one statement run on its own (`Database.query`), both on a thread."""
        with self._span("read", build):
            return await self._workers.run(lambda: build(self.database.query(sql, params)))

    async def write(self, fn: Callable[[Connection], T]) -> T:
        with self._span("write", fn):
            return await self._workers.run(lambda: self.database.transaction(fn, write=True))

    def close(self) -> None:
        self._workers.close()
        self.database.close()
