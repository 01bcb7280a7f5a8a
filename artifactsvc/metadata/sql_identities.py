"""Identities: tokens to users and jobs, memberships, and the CI job token allowlist.

Token digests found by the index lookup are compared once more with `hmac.compare_digest`:
the index is not the last word on a secret.
"""

from __future__ import annotations

import hmac
import json

from artifactsvc.metadata import rows
from artifactsvc.metadata.database import AsyncDatabase, Row
from artifactsvc.models import Job, PersonalToken, User


class SqlIdentities:
    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def personal_token(self, token_hash: str) -> PersonalToken | None:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT u.*, t.token_hash AS digest, t.scopes AS token_scopes"
                " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                (token_hash,),
            )
        )
        if found and hmac.compare_digest(found[0]["digest"], token_hash):
            scopes = frozenset(json.loads(found[0]["token_scopes"]))
            return PersonalToken(rows.user(found[0]), scopes)
        return None

    async def user(self, id_or_username: str) -> User | None:
        """GitLab's `find_user` for sudo: by id when the text is a number, else by username."""
        if id_or_username.isascii() and id_or_username.isdigit():
            user_id = int(id_or_username)
            if user_id >= 2**63:
                return None
            found = await self._db.read(
                lambda conn: conn.fetch("SELECT * FROM users WHERE id = ?", (user_id,))
            )
            return rows.user(found[0]) if found else None
        return await self.user_by_username(id_or_username)

    async def job_by_token_hash(self, token_hash: str) -> Job | None:
        def matching(found: list[Row]) -> list[Job]:
            return rows.joined_jobs(
                [row for row in found if hmac.compare_digest(row["token_hash"], token_hash)]
            )

        sql = f"{rows.JOB_ARTIFACTS_SELECT} WHERE j.token_hash = ? ORDER BY j.id, a.file_type"
        jobs = await self._db.query(sql, (token_hash,), matching)
        return jobs[0] if jobs else None

    async def user_by_username(self, username: str) -> User | None:
        found = await self._db.read(
            lambda conn: conn.fetch("SELECT * FROM users WHERE username = ?", (username,))
        )
        return rows.user(found[0]) if found else None

    async def member_level(self, project_id: int, user_id: int) -> int | None:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT access_level FROM members WHERE project_id = ? AND user_id = ?",
                (project_id, user_id),
            )
        )
        return int(found[0]["access_level"]) if found else None

    async def job_token_allowed(self, project_id: int, source_project_id: int) -> bool:
        found = await self._db.read(
            lambda conn: conn.fetch(
                "SELECT 1 AS ok FROM job_token_allowlist"
                " WHERE project_id = ? AND allowed_project_id = ?",
                (project_id, source_project_id),
            )
        )
        return bool(found)
