"""Job logs, appended by runners in order (GitLab's incremental trace PATCH)."""

from __future__ import annotations

from artifactsvc.errors import TraceOffsetMismatch
from artifactsvc.metadata.database import AsyncDatabase, Connection


class SqlTraces:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def trace(self, job_id: int) -> bytes | None:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT content FROM job_traces WHERE job_id = ?", (job_id,))
        )
        return bytes(found[0]["content"]) if found else None

    async def append_trace(self, job_id: int, start: int, data: bytes) -> int:
        def run(conn: Connection) -> int:
            # The first piece races too: the row is created (or found) by one statement, so
            # the row lock below always has a row to hold and one of two first pieces wins.
            conn.execute(
                "INSERT INTO job_traces (job_id, content) VALUES (?, ?)"
                " ON CONFLICT (job_id) DO NOTHING",
                (job_id, b""),
            )
            found = conn.fetch(
                f"SELECT content FROM job_traces WHERE job_id = ?{conn.row_lock}", (job_id,)
            )
            current = bytes(found[0]["content"]) if found else b""
            if start != len(current):
                raise TraceOffsetMismatch(len(current))
            content = current + data
            conn.execute(
                "INSERT INTO job_traces (job_id, content) VALUES (?, ?)"
                " ON CONFLICT (job_id) DO UPDATE SET content = excluded.content",
                (job_id, content),
            )
            return len(content)

        return await self._db.write(run)

    async def delete_trace(self, job_id: int) -> None:
        await self._db.write(
            lambda conn: conn.execute("DELETE FROM job_traces WHERE job_id = ?", (job_id,))
        )
