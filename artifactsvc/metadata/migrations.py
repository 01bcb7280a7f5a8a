"""Versioned, forward-only schema migrations for SQLite and PostgreSQL alike.

Each migration is a numbered list of SQL statements written once for both dialects (`{blob}`
is the one type that differs: BLOB in SQLite, BYTEA in PostgreSQL). `migrate` applies the
ones a database has not seen, in order, in ONE write transaction under the migration lock,
so replicas starting together migrate once: the first takes the lock, the others wait for it
and then find nothing left to do. `schema_version` keeps a row per applied version.

Why not Alembic: the service has no SQLAlchemy; its SQL runs through a two-method seam
(metadata/database.py) over sqlite3 and psycopg, and its migrations are a few additive DDL
statements. A numbered list run inside that seam's own transaction and lock does all Alembic
would do here, without a second way to connect, an env.py, or a second dialect layer.

Rules for a new migration: append it with the next number; never edit one that has shipped;
keep it additive (new tables, new columns with defaults, new indexes), so replicas still on
the previous version keep working during a rolling upgrade.

Times are stored as ISO 8601 UTC text with milliseconds, which sorts correctly and reads the
same in both databases. Booleans are 0/1 integers for the same reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from artifactsvc.metadata.database import Connection

log = logging.getLogger("artifactsvc.migrations")

# Replicas starting together must not race on CREATE TABLE.
MIGRATION_LOCK = 0x617274696661


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...]


FIRST_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        id BIGINT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        email TEXT NOT NULL DEFAULT '',
        admin INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'active',
        created_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS tokens (
        token_hash TEXT PRIMARY KEY,
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE
    )""",
    """CREATE TABLE IF NOT EXISTS projects (
        id BIGINT PRIMARY KEY,
        path_with_namespace TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        visibility TEXT NOT NULL DEFAULT 'private',
        description TEXT,
        default_branch TEXT,
        created_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS members (
        project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        access_level INTEGER NOT NULL,
        PRIMARY KEY (project_id, user_id)
    )""",
    """CREATE TABLE IF NOT EXISTS job_token_allowlist (
        project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        allowed_project_id BIGINT NOT NULL,
        PRIMARY KEY (project_id, allowed_project_id)
    )""",
    """CREATE TABLE IF NOT EXISTS pipelines (
        id BIGINT PRIMARY KEY,
        iid BIGINT NOT NULL,
        project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        ref TEXT NOT NULL,
        tag INTEGER NOT NULL DEFAULT 0,
        sha TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'push',
        created_at TEXT,
        updated_at TEXT,
        commit_json TEXT,
        user_id BIGINT
    )""",
    """CREATE INDEX IF NOT EXISTS pipelines_by_ref
        ON pipelines (project_id, ref, status, id)""",
    """CREATE TABLE IF NOT EXISTS jobs (
        id BIGINT PRIMARY KEY,
        project_id BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        pipeline_id BIGINT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        stage TEXT NOT NULL DEFAULT 'test',
        status TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'build',
        when_ TEXT NOT NULL DEFAULT 'on_success',
        allow_failure INTEGER NOT NULL DEFAULT 0,
        user_id BIGINT,
        token_hash TEXT UNIQUE,
        coverage DOUBLE PRECISION,
        tag_list TEXT NOT NULL DEFAULT '[]',
        failure_reason TEXT,
        created_at TEXT,
        queued_at TEXT,
        started_at TEXT,
        finished_at TEXT,
        erased_at TEXT,
        retried INTEGER NOT NULL DEFAULT 0,
        downstream_pipeline_id BIGINT,
        runner_json TEXT
    )""",
    """CREATE INDEX IF NOT EXISTS jobs_by_project ON jobs (project_id, kind, id)""",
    """CREATE INDEX IF NOT EXISTS jobs_by_pipeline ON jobs (pipeline_id, name)""",
    """CREATE TABLE IF NOT EXISTS job_traces (
        job_id BIGINT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
        content {blob} NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS artifacts (
        job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        file_type TEXT NOT NULL,
        project_id BIGINT NOT NULL,
        file_format TEXT NOT NULL,
        filename TEXT NOT NULL,
        size BIGINT NOT NULL,
        object_key TEXT NOT NULL,
        etag TEXT NOT NULL,
        sha256 TEXT,
        expire_at TEXT,
        created_at TEXT,
        index_key TEXT,
        index_directory {blob},
        PRIMARY KEY (job_id, file_type)
    )""",
    """CREATE INDEX IF NOT EXISTS artifacts_by_expiry ON artifacts (expire_at)""",
    """CREATE INDEX IF NOT EXISTS artifacts_by_project ON artifacts (project_id)""",
)


# GitLab's project setting "public pipelines", token scopes, the pipeline fields of the
# Pipelines API, and the parent of a child pipeline.
GITLAB_FIELDS = (
    "ALTER TABLE projects ADD COLUMN public_builds INTEGER NOT NULL DEFAULT 1",
    """ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '["api"]'""",
    "ALTER TABLE pipelines ADD COLUMN name TEXT",
    "ALTER TABLE pipelines ADD COLUMN before_sha TEXT",
    "ALTER TABLE pipelines ADD COLUMN yaml_errors TEXT",
    "ALTER TABLE pipelines ADD COLUMN started_at TEXT",
    "ALTER TABLE pipelines ADD COLUMN finished_at TEXT",
    "ALTER TABLE pipelines ADD COLUMN committed_at TEXT",
    "ALTER TABLE pipelines ADD COLUMN duration BIGINT",
    "ALTER TABLE pipelines ADD COLUMN queued_duration BIGINT",
    "ALTER TABLE pipelines ADD COLUMN coverage TEXT",
    "ALTER TABLE pipelines ADD COLUMN parent_pipeline_id BIGINT",
    "CREATE INDEX IF NOT EXISTS pipelines_by_parent ON pipelines (parent_pipeline_id)",
    "CREATE INDEX IF NOT EXISTS pipelines_by_project ON pipelines (project_id, id)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "users, tokens, projects, pipelines, jobs, traces, artifacts", FIRST_SCHEMA),
    Migration(2, "public pipelines, token scopes, pipeline fields, child pipelines", GITLAB_FIELDS),
    Migration(
        3,
        "artifacts.accessibility: who may download an artifact (GitLab's public, private, "
        "maintainer, none); rows from before it are public, GitLab's default",
        ("ALTER TABLE artifacts ADD COLUMN accessibility TEXT NOT NULL DEFAULT 'public'",),
    ),
    Migration(
        4,
        "jobs_current_by_pipeline: a pipeline's current (not retried) jobs, newest first, read"
        " from the index (`pipeline_id = ? AND kind = ? AND retried = 0 ORDER BY id DESC`); a"
        " project's list (retried included, GitLab's `user_project.builds`) has jobs_by_project",
        (
            "CREATE INDEX IF NOT EXISTS jobs_current_by_pipeline"
            " ON jobs (pipeline_id, kind, retried, id)",
        ),
    ),
    Migration(
        5,
        "job_trace_chunks: a job's log in pieces of at most 128 KiB (GitLab's trace chunks),"
        " so an append rewrites the last piece, not the whole log; job_traces keeps the size."
        " Each stored log becomes its first piece; its old column is emptied, not dropped",
        (
            """CREATE TABLE IF NOT EXISTS job_trace_chunks (
                job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                seq BIGINT NOT NULL,
                content {blob} NOT NULL,
                PRIMARY KEY (job_id, seq)
            )""",
            "INSERT INTO job_trace_chunks (job_id, seq, content)"
            " SELECT job_id, 0, content FROM job_traces WHERE length(content) > 0",
            "ALTER TABLE job_traces ADD COLUMN size BIGINT NOT NULL DEFAULT 0",
            "UPDATE job_traces SET size = length(content)",
            # An empty value of the column's own type in both dialects (bytes, not text).
            "UPDATE job_traces SET content = substr(content, 1, 0)",
        ),
    ),
)
LATEST = MIGRATIONS[-1].version


def applied_version(conn: Connection) -> int:
    """The newest version applied (0 for an empty database)."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    found = conn.fetch("SELECT MAX(version) AS version FROM schema_version")
    return int(found[0]["version"] or 0) if found else 0


def migrate(conn: Connection, blob_type: str, *, target: int = LATEST) -> list[int]:
    """Applies every migration above the database's version up to `target`; returns the
    versions applied. Call inside a write transaction."""
    conn.lock(MIGRATION_LOCK)
    current = applied_version(conn)
    if current > LATEST:
        # A newer replica migrated first (a rolling upgrade): its additions are invisible here.
        log.warning("schema version %d is newer than this release's %d", current, LATEST)
    applied = []
    for migration in MIGRATIONS:
        if current < migration.version <= target:
            for statement in migration.statements:
                conn.execute(statement.replace("{blob}", blob_type))
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (migration.version,))
            applied.append(migration.version)
    return applied
