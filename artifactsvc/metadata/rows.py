"""Database rows -> domain records. Column names are the schema's (see schema.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from artifactsvc.metadata.database import Row
from artifactsvc.models import Artifact, Job, Pipeline, Project, User, parse_time

JOB_SELECT = """
SELECT j.*,
       p.iid AS p_iid, p.ref AS p_ref, p.tag AS p_tag, p.sha AS p_sha, p.status AS p_status,
       p.source AS p_source, p.created_at AS p_created_at, p.updated_at AS p_updated_at,
       p.commit_json AS p_commit_json, p.user_id AS p_user_id,
       u.username AS u_username, u.name AS u_name, u.email AS u_email, u.admin AS u_admin,
       u.state AS u_state, u.created_at AS u_created_at,
       EXISTS (SELECT 1 FROM job_traces t WHERE t.job_id = j.id) AS has_trace
FROM jobs j
JOIN pipelines p ON p.id = j.pipeline_id
LEFT JOIN users u ON u.id = j.user_id
"""


def user(row: Row, prefix: str = "") -> User:
    return User(
        id=int(row[f"{prefix}id"] if prefix == "" else row["user_id"]),
        username=row[f"{prefix}username"],
        name=row[f"{prefix}name"],
        email=row[f"{prefix}email"] or "",
        admin=bool(row[f"{prefix}admin"]),
        state=row[f"{prefix}state"],
        created_at=parse_time(row[f"{prefix}created_at"]),
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
    )


def pipeline(row: Row, prefix: str = "") -> Pipeline:
    commit = row[f"{prefix}commit_json"]
    return Pipeline(
        id=int(row["id"] if prefix == "" else row["pipeline_id"]),
        iid=int(row[f"{prefix}iid"]),
        project_id=int(row["project_id"]),
        ref=row[f"{prefix}ref"],
        tag=bool(row[f"{prefix}tag"]),
        sha=row[f"{prefix}sha"],
        status=row[f"{prefix}status"],
        source=row[f"{prefix}source"],
        created_at=parse_time(row[f"{prefix}created_at"]),
        updated_at=parse_time(row[f"{prefix}updated_at"]),
        commit=json.loads(commit) if commit else None,
        user_id=row[f"{prefix}user_id"],
    )


def artifact(row: Row) -> Artifact:
    directory = row["index_directory"]
    return Artifact(
        job_id=int(row["job_id"]),
        project_id=int(row["project_id"]),
        file_type=row["file_type"],
        file_format=row["file_format"],
        filename=row["filename"],
        size=int(row["size"]),
        object_key=row["object_key"],
        etag=row["etag"],
        sha256=row["sha256"],
        expire_at=parse_time(row["expire_at"]),
        created_at=parse_time(row["created_at"]),
        index_key=row["index_key"],
        index_directory=bytes(directory) if directory is not None else None,
    )


def job(row: Row, artifacts: Sequence[Artifact] = ()) -> Job:
    runner: Any = json.loads(row["runner_json"]) if row["runner_json"] else None
    return Job(
        id=int(row["id"]),
        project_id=int(row["project_id"]),
        pipeline_id=int(row["pipeline_id"]),
        name=row["name"],
        stage=row["stage"],
        status=row["status"],
        kind=row["kind"],
        when=row["when_"],
        allow_failure=bool(row["allow_failure"]),
        user_id=row["user_id"],
        coverage=row["coverage"],
        tag_list=tuple(json.loads(row["tag_list"] or "[]")),
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
        pipeline=pipeline(row, prefix="p_"),
        user=user(row, prefix="u_") if row["u_username"] is not None else None,
        artifacts=tuple(artifacts),
    )
