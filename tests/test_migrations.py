"""Versioned schema migrations (metadata/migrations.py) on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from artifactsvc.metadata import open_metadata_store
from artifactsvc.metadata.migrations import LATEST, MIGRATIONS
from tests.support.database import execute, query
from tests.support.logs import whole_log
from tests.support.processes import run_artifactsvc

# Rows as the FIRST schema holds them, written with its own columns: every later migration is
# additive, so a database of any release keeps these readable.
FIRST_SCHEMA_ROWS = [
    ("INSERT INTO users (id, username, name, email, admin, state, created_at)"
     " VALUES (1, 'root', 'Root', 'root@example.com', 1, 'active', '2015-12-24T15:50:16.123Z')"),
    "INSERT INTO tokens (token_hash, user_id) VALUES ('digest-of-a-token', 1)",
    ("INSERT INTO projects (id, path_with_namespace, name, visibility, default_branch)"
     " VALUES (1, 'a/b', 'b', 'private', 'main')"),
    "INSERT INTO members (project_id, user_id, access_level) VALUES (1, 1, 40)",
    ("INSERT INTO pipelines (id, iid, project_id, ref, tag, sha, status, source, created_at)"
     " VALUES (1, 1, 1, 'main', 0, 'abc', 'success', 'push', '2015-12-24T15:50:16.123Z')"),
    *(
        "INSERT INTO jobs (id, project_id, pipeline_id, name, stage, status, token_hash)"
        f" VALUES ({n}, 1, 1, 'job-{n}', 'test', 'success', 'job-digest-{n}')"
        for n in range(1, 6)
    ),
    "INSERT INTO job_traces (job_id, content) VALUES (1, ?)",
    ("INSERT INTO artifacts (job_id, file_type, project_id, file_format, filename, size,"
     " object_key, etag) VALUES (1, 'archive', 1, 'zip', 'artifacts.zip', 22, 'k', 'e')"),
]  # fmt: skip
TABLES = ("users", "tokens", "projects", "members", "pipelines", "jobs", "artifacts")


def snapshot(database_url: str) -> dict[str, list[dict[str, object]]]:
    """The first schema's columns of every seeded table, as stored."""
    first: dict[str, list[dict[str, object]]] = {}
    for table in TABLES:
        first[table] = query(database_url, f"SELECT * FROM {table}")
    first["job_traces"] = query(database_url, "SELECT job_id FROM job_traces")
    return first


def stored_trace(database_url: str, job_id: int) -> bytes | None:
    async def go() -> bytes | None:
        store = open_metadata_store(database_url)
        try:
            return await whole_log(store.traces, job_id)
        finally:
            store.close()

    return asyncio.run(go())


def migrate(database_url: str, *, target: int = LATEST) -> list[int]:
    async def go() -> list[int]:
        store = open_metadata_store(database_url)
        try:
            return await store.migrate(target=target)
        finally:
            store.close()

    return asyncio.run(go())


def test_a_new_database_gets_every_migration_once_in_order(database_url: str) -> None:
    assert migrate(database_url) == [m.version for m in MIGRATIONS]
    assert migrate(database_url) == []
    versions = [row["version"] for row in query(database_url, "SELECT version FROM schema_version")]
    assert sorted(versions) == [m.version for m in MIGRATIONS]


def test_migration_numbers_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


@pytest.mark.parametrize("previous", [m.version for m in MIGRATIONS[:-1]])
def test_upgrading_a_database_of_an_earlier_schema_keeps_its_data(
    database_url: str, previous: int
) -> None:
    migrate(database_url, target=1)
    for statement in FIRST_SCHEMA_ROWS:
        execute(database_url, statement, (b"log 1",) if "?" in statement else ())
    migrate(database_url, target=previous)
    before = snapshot(database_url)

    assert migrate(database_url) == [m.version for m in MIGRATIONS if m.version > previous]
    after = snapshot(database_url)
    for table, rows in before.items():
        columns = list(rows[0])
        kept = [{k: row[k] for k in columns} for row in after[table]]
        assert sorted(kept, key=repr) == sorted(rows, key=repr), table
    # The log moved into pieces (migration 5): the store reads what was written.
    assert stored_trace(database_url, 1) == b"log 1"
    assert stored_trace(database_url, 2) is None


def test_a_log_stored_whole_takes_appends_after_the_upgrade(database_url: str) -> None:
    """A log of the schema before pieces (one value of any length) becomes the first piece;
    appends then add pieces after it, and the size counts from its length."""
    migrate(database_url, target=4)
    for statement in FIRST_SCHEMA_ROWS:
        execute(database_url, statement, (b"x" * 300_000,) if "?" in statement else ())
    migrate(database_url)

    async def go() -> tuple[int, bytes | None]:
        store = open_metadata_store(database_url)
        try:
            size = await store.traces.append_trace(1, 300_000, b"more")
            return size, await whole_log(store.traces, 1)
        finally:
            store.close()

    size, log = asyncio.run(go())
    assert size == 300_004
    assert log == b"x" * 300_000 + b"more"
    sizes = query(database_url, "SELECT size FROM job_traces WHERE job_id = 1")
    assert sizes == [{"size": 300_004}]


def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    async def go() -> list[list[int]]:
        stores = [open_metadata_store(database_url) for _ in range(4)]
        try:
            return list(await asyncio.gather(*(store.migrate() for store in stores)))
        finally:
            for store in stores:
                store.close()

    applied = asyncio.run(go())
    assert sorted(applied, key=len)[-1] == [m.version for m in MIGRATIONS]
    assert sum(len(versions) for versions in applied) == len(MIGRATIONS)


def test_the_migrate_command_says_which_version_it_left(tmp_path: Path) -> None:
    env = {"ARTIFACTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/meta.db"}
    first = run_artifactsvc("migrate", env=env, cwd=tmp_path)
    again = run_artifactsvc("migrate", env=env, cwd=tmp_path)

    applied = ", ".join(str(m.version) for m in MIGRATIONS)
    assert first.stdout == f"schema at version {LATEST}; migrations applied now: {applied}\n"
    assert again.stdout == f"schema at version {LATEST}; migrations applied now: none\n"


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("project_id = 1 AND kind = 'build' AND id < 9", "jobs_by_project"),
        (
            "pipeline_id = 1 AND kind = 'build' AND retried = 0 AND id < 9",
            "jobs_current_by_pipeline",
        ),
    ],
)
def test_job_pages_are_read_from_an_index_in_id_order(
    tmp_path: Path, where: str, index: str
) -> None:
    """No scan of the table and no sort: a keyset page costs the same at page 1 and 10,000."""
    database_url = f"sqlite:///{tmp_path}/meta.db"
    migrate(database_url)

    plan = query(database_url, f"EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE {where}"
                 " ORDER BY id DESC LIMIT 21")  # fmt: skip

    details = " | ".join(str(row["detail"]) for row in plan)
    assert f"USING INDEX {index}" in details or f"USING COVERING INDEX {index}" in details
    assert "TEMP B-TREE" not in details
