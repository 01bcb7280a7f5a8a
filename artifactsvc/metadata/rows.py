"""Rows <-> domain records, and the row-level helpers every query module shares.

The only module besides migrations.py that knows column names: reading (`user`, `job`, ...)
turns rows into records; writing (`user_row`, `job_row`, ... and `upsert`) turns records
into rows. Times are ISO 8601 text, booleans 0/1 (see migrations.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from artifactsvc.metadata.database import Connection, Row
from artifactsvc.models import Artifact, Job, Pipeline, Project, User, format_time, parse_time

_JOB_COLUMNS = """SELECT j.*,
       p.iid AS p_iid, p.ref AS p_ref, p.tag AS p_tag, p.sha AS p_sha, p.status AS p_status,
       p.source AS p_source, p.created_at AS p_created_at, p.updated_at AS p_updated_at,
       p.commit_json AS p_commit_json, p.user_id AS p_user_id, p.name AS p_name,
       p.before_sha AS p_before_sha, p.yaml_errors AS p_yaml_errors,
       p.started_at AS p_started_at, p.finished_at AS p_finished_at,
       p.committed_at AS p_committed_at, p.duration AS p_duration,
       p.queued_duration AS p_queued_duration, p.coverage AS p_coverage,
       p.parent_pipeline_id AS p_parent_pipeline_id,
       u.username AS u_username, u.name AS u_name, u.email AS u_email, u.admin AS u_admin,
       u.state AS u_state, u.created_at AS u_created_at,
       EXISTS (SELECT 1 FROM job_traces t WHERE t.job_id = j.id) AS has_trace"""
_JOB_FROM = """FROM jobs j
JOIN pipelines p ON p.id = j.pipeline_id
LEFT JOIN users u ON u.id = j.user_id"""
JOB_SELECT = f"\n{_JOB_COLUMNS}\n{_JOB_FROM}\n"

ARTIFACT_COLUMNS = (
    "job_id", "file_type", "project_id", "file_format", "filename", "size", "object_key",
    "etag", "sha256", "expire_at", "created_at", "index_key", "index_directory",
    "accessibility",
)  # fmt: skip

# JOB_SELECT with the job's artifacts joined in as `a_` columns: a row per artifact (one
# with NULL `a_` columns for a job without any), ordered by the caller, then `a.file_type`.
# A job and its artifacts in one statement, which `Database.query` runs on its own.
JOB_ARTIFACTS_SELECT = (
    f"\n{_JOB_COLUMNS},\n       "
    + ", ".join(f"a.{column} AS a_{column}" for column in ARTIFACT_COLUMNS)
    + f"\n{_JOB_FROM}\nLEFT JOIN artifacts a ON a.job_id = j.id\n"
)


# A pipeline with the user who triggered it (`u_` columns), for the Pipelines API.
PIPELINE_SELECT = """
SELECT p.*,
       u.username AS u_username, u.name AS u_name, u.email AS u_email, u.admin AS u_admin,
       u.state AS u_state, u.created_at AS u_created_at
FROM pipelines p
LEFT JOIN users u ON u.id = p.user_id
"""


def limit_offset(limit: int, offset: int) -> str:
    """`LIMIT n OFFSET m` with both numbers in the statement's text, not parameters.

    psycopg prepares a statement run five times on a connection; PostgreSQL then plans it
    once (a generic plan) when that plan costs about what a plan for the given values does.
    With LIMIT a parameter, the generic plan assumes a tenth of the table and never wins, so a
    page was planned anew at every request (custom_plans only, in pg_prepared_statements):
    some 1 ms of the database's CPU for a page of jobs, more than running it. A statement a
    (limit, offset) pair is cheap: the first pages are the ones asked again and again."""
    if type(limit) is not int or type(offset) is not int or limit < 0 or offset < 0:
        raise ValueError(f"invalid page: limit={limit!r} offset={offset!r}")
    return f"LIMIT {limit} OFFSET {offset}"


def _keys(prefix: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{name}" for name in names)


# The column names of a user and a pipeline under each prefix the SELECTs above give them,
# built once: formatting ~20 names per row was a third of the cost of reading a job.
_USER_COLUMNS = ("username", "name", "email", "admin", "state", "created_at")
_USER_KEYS = {prefix: _keys(prefix, *_USER_COLUMNS) for prefix in ("", "u_")}
_PIPELINE_COLUMNS = (
    "iid", "ref", "tag", "sha", "status", "source", "created_at", "updated_at", "commit_json",
    "user_id", "name", "before_sha", "yaml_errors", "started_at", "finished_at",
    "committed_at", "duration", "queued_duration", "coverage", "parent_pipeline_id",
)  # fmt: skip
_PIPELINE_KEYS = {prefix: _keys(prefix, *_PIPELINE_COLUMNS) for prefix in ("", "p_")}


def user(row: Row, prefix: str = "") -> User:
    username, name, email, admin, state, created_at = _USER_KEYS[prefix]
    return User(
        id=int(row["id"] if prefix == "" else row["user_id"]),
        username=row[username],
        name=row[name],
        email=row[email] or "",
        admin=bool(row[admin]),
        state=row[state],
        created_at=parse_time(row[created_at]),
    )


def project(row: Row) -> Project:
    return Project(
        id=int(row["id"]),
        path_with_namespace=row["path_with_namespace"],
        name=row["name"],
        visibility=row["visibility"],
        description=row["description"],
        default_branch=row["default_branch"],
        created_at=parse_time(row["created_at"]),
        public_builds=bool(row["public_builds"]),
    )


def pipeline(row: Row, prefix: str = "") -> Pipeline:
    (
        iid, ref, tag, sha, status, source, created_at, updated_at, commit_json, user_id, name,
        before_sha, yaml_errors, started_at, finished_at, committed_at, duration,
        queued_duration, coverage, parent_pipeline_id,
    ) = _PIPELINE_KEYS[prefix]  # fmt: skip
    commit = row[commit_json]
    return Pipeline(
        id=int(row["id"] if prefix == "" else row["pipeline_id"]),
        iid=int(row[iid]),
        project_id=int(row["project_id"]),
        ref=row[ref],
        tag=bool(row[tag]),
        sha=row[sha],
        status=row[status],
        source=row[source],
        created_at=parse_time(row[created_at]),
        updated_at=parse_time(row[updated_at]),
        commit=json.loads(commit) if commit else None,
        user_id=row[user_id],
        name=row[name],
        before_sha=row[before_sha],
        yaml_errors=row[yaml_errors],
        started_at=parse_time(row[started_at]),
        finished_at=parse_time(row[finished_at]),
        committed_at=parse_time(row[committed_at]),
        duration=row[duration],
        queued_duration=row[queued_duration],
        coverage=row[coverage],
        parent_pipeline_id=row[parent_pipeline_id],
        # Only PIPELINE_SELECT joins the triggering user (as `u_`); JOB_SELECT's `u_` is the
        # job's user.
        user=user(row, prefix="u_") if prefix == "" and row.get("u_username") else None,
    )


def artifact(row: Row, prefix: str = "") -> Artifact:
    directory = row[prefix + "index_directory"]
    return Artifact(
        job_id=int(row[prefix + "job_id"]),
        project_id=int(row[prefix + "project_id"]),
        file_type=row[prefix + "file_type"],
        file_format=row[prefix + "file_format"],
        filename=row[prefix + "filename"],
        size=int(row[prefix + "size"]),
        object_key=row[prefix + "object_key"],
        etag=row[prefix + "etag"],
        sha256=row[prefix + "sha256"],
        expire_at=parse_time(row[prefix + "expire_at"]),
        created_at=parse_time(row[prefix + "created_at"]),
        index_key=row[prefix + "index_key"],
        index_directory=bytes(directory) if directory is not None else None,
        accessibility=row[prefix + "accessibility"],
    )


K = TypeVar("K")
V = TypeVar("V")


def _shared(built: dict[K, V] | None, key: K, build: Callable[[], V]) -> V:
    """The record `built` holds for `key`, else a new one (kept there for the next row)."""
    found = built.get(key) if built is not None else None
    if found is None:
        found = build()
        if built is not None:
            built[key] = found
    return found


def job(
    row: Row,
    artifacts: Sequence[Artifact] = (),
    *,
    pipelines: dict[int, Pipeline] | None = None,
    users: dict[int, User] | None = None,
) -> Job:
    """The job of a JOB_SELECT row. `pipelines` and `users`: records already built for other
    rows of the same query, by id (a page's jobs share a few pipelines and users, and the
    records are immutable), filled in as rows bring new ones."""
    runner: Any = json.loads(row["runner_json"]) if row["runner_json"] else None
    tags = row["tag_list"]
    pipeline_id = int(row["pipeline_id"])
    shown_pipeline = _shared(pipelines, pipeline_id, lambda: pipeline(row, prefix="p_"))
    shown_user = (
        _shared(users, int(row["user_id"]), lambda: user(row, prefix="u_"))
        if row["u_username"] is not None
        else None
    )
    return Job(
        id=int(row["id"]),
        project_id=int(row["project_id"]),
        pipeline_id=pipeline_id,
        name=row["name"],
        stage=row["stage"],
        status=row["status"],
        kind=row["kind"],
        when=row["when_"],
        allow_failure=bool(row["allow_failure"]),
        user_id=row["user_id"],
        coverage=row["coverage"],
        tag_list=tuple(json.loads(tags)) if tags and tags != "[]" else (),
        failure_reason=row["failure_reason"],
        created_at=parse_time(row["created_at"]),
        queued_at=parse_time(row["queued_at"]),
        started_at=parse_time(row["started_at"]),
        finished_at=parse_time(row["finished_at"]),
        erased_at=parse_time(row["erased_at"]),
        retried=bool(row["retried"]),
        downstream_pipeline_id=row["downstream_pipeline_id"],
        runner=runner,
        has_trace=bool(row["has_trace"]),
        pipeline=shown_pipeline,
        user=shown_user,
        artifacts=tuple(artifacts),
    )


def joined_jobs(found: list[Row]) -> list[Job]:
    """Records for rows selected with JOB_ARTIFACTS_SELECT, each job once (in the order it
    first appears) with the artifacts of its rows, in their order."""
    grouped: dict[int, tuple[Row, list[Artifact]]] = {}
    for row in found:
        job_id = int(row["id"])
        entry = grouped.get(job_id)
        if entry is None:
            entry = grouped[job_id] = (row, [])
        if row["a_file_type"] is not None:
            entry[1].append(artifact(row, prefix="a_"))
    pipelines: dict[int, Pipeline] = {}
    users: dict[int, User] = {}
    return [
        job(row, artifacts, pipelines=pipelines, users=users) for row, artifacts in grouped.values()
    ]


# -- records -> rows ---------------------------------------------------------------------------


def user_row(record: User) -> Row:
    return {
        "id": record.id,
        "username": record.username,
        "name": record.name,
        "email": record.email,
        "admin": record.admin,
        "state": record.state,
        "created_at": record.created_at,
    }


def project_row(record: Project) -> Row:
    return {
        "id": record.id,
        "path_with_namespace": record.path_with_namespace,
        "name": record.name,
        "visibility": record.visibility,
        "description": record.description,
        "default_branch": record.default_branch,
        "created_at": record.created_at,
        "public_builds": record.public_builds,
    }


def pipeline_row(record: Pipeline) -> Row:
    return {
        "id": record.id,
        "iid": record.iid,
        "project_id": record.project_id,
        "ref": record.ref,
        "tag": record.tag,
        "sha": record.sha,
        "status": record.status,
        "source": record.source,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "commit_json": json.dumps(record.commit) if record.commit is not None else None,
        "user_id": record.user_id,
        "name": record.name,
        "before_sha": record.before_sha,
        "yaml_errors": record.yaml_errors,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "committed_at": record.committed_at,
        "duration": record.duration,
        "queued_duration": record.queued_duration,
        "coverage": record.coverage,
        "parent_pipeline_id": record.parent_pipeline_id,
    }


def job_row(record: Job, token_hash: str | None) -> Row:
    return {
        "id": record.id,
        "project_id": record.project_id,
        "pipeline_id": record.pipeline_id,
        "name": record.name,
        "stage": record.stage,
        "status": record.status,
        "kind": record.kind,
        "when_": record.when,
        "allow_failure": record.allow_failure,
        "user_id": record.user_id,
        "token_hash": token_hash,
        "coverage": record.coverage,
        "tag_list": json.dumps(list(record.tag_list)),
        "failure_reason": record.failure_reason,
        "created_at": record.created_at,
        "queued_at": record.queued_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "erased_at": record.erased_at,
        "retried": record.retried,
        "downstream_pipeline_id": record.downstream_pipeline_id,
        "runner_json": json.dumps(record.runner) if record.runner is not None else None,
    }


def artifact_row(record: Artifact) -> Row:
    return {
        "job_id": record.job_id,
        "file_type": record.file_type,
        "project_id": record.project_id,
        "file_format": record.file_format,
        "filename": record.filename,
        "size": record.size,
        "object_key": record.object_key,
        "etag": record.etag,
        "sha256": record.sha256,
        "expire_at": record.expire_at,
        "created_at": record.created_at,
        "index_key": record.index_key,
        "index_directory": record.index_directory,
        "accessibility": record.accessibility,
    }


def upsert(conn: Connection, table: str, row: Row, key: tuple[str, ...]) -> None:
    """`INSERT ... ON CONFLICT (key) DO UPDATE`: reads the same in SQLite (3.24+) and
    PostgreSQL."""
    columns = list(row)
    updates = [column for column in columns if column not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{column} = excluded.{column}" for column in updates)
        if updates
        else "DO NOTHING"
    )
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        f" ON CONFLICT ({', '.join(key)}) {action}",
        [db_value(value) for value in row.values()],
    )


def insert_new(conn: Connection, table: str, row: Row, key: tuple[str, ...]) -> bool:
    """`INSERT ... ON CONFLICT (key) DO NOTHING`; False when a row with that key exists (or
    is being inserted by a transaction that then commits: PostgreSQL waits for it)."""
    columns = list(row)
    changed = conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        f" ON CONFLICT ({', '.join(key)}) DO NOTHING",
        [db_value(value) for value in row.values()],
    )
    return changed > 0


def db_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "isoformat"):
        return format_time(value)
    return value
