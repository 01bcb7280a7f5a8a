"""Import documents (CONTRACT section 3): users, projects, pipelines and jobs as plain dicts in
the import format, so every test seeds exactly what `artifactsvc import` would store."""

from __future__ import annotations

from typing import Any

SHA = "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd"
COMMIT = {
    "id": SHA,
    "short_id": SHA[:8],
    "title": "Test the CI integration.",
    "message": "Test the CI integration.",
    "author_name": "Administrator",
    "author_email": "admin@example.com",
    "created_at": "2015-12-24T16:51:14.000+01:00",
}

Doc = dict[str, Any]


def user(
    user_id: int, username: str, *, admin: bool = False, tokens: tuple[str, ...] = (), **extra: Any
) -> Doc:
    return {
        "id": user_id,
        "username": username,
        "name": username.title(),
        "email": f"{username}@example.com",
        "admin": admin,
        "tokens": list(tokens),
        **extra,
    }


def project(
    project_id: int,
    path: str,
    visibility: str = "private",
    members: dict[str, int] | None = None,
    **extra: Any,
) -> Doc:
    return {
        "id": project_id,
        "path_with_namespace": path,
        "visibility": visibility,
        "members": [
            {"username": name, "access_level": level} for name, level in (members or {}).items()
        ],
        **extra,
    }


def pipeline(pipeline_id: int, project_id: int, **extra: Any) -> Doc:
    return {
        "id": pipeline_id,
        "iid": pipeline_id,
        "project_id": project_id,
        "ref": "master",
        "tag": False,
        "sha": SHA,
        "status": "success",
        "source": "push",
        "created_at": "2015-12-24T15:50:16.123Z",
        "updated_at": "2015-12-24T18:00:44.432Z",
        "commit": COMMIT,
        **extra,
    }


def job(job_id: int, pipeline_id: int, status: str = "success", **extra: Any) -> Doc:
    body: Doc = {
        "id": job_id,
        "pipeline_id": pipeline_id,
        "name": f"job-{job_id}",
        "stage": "test",
        "status": status,
        "created_at": "2015-12-24T15:51:21.802Z",
    }
    if status not in ("created", "pending", "manual", "scheduled", "skipped"):
        body["started_at"] = "2015-12-24T17:54:27.722Z"
    if status in ("success", "failed", "canceled"):
        body["finished_at"] = "2015-12-24T17:54:27.895Z"
    if status == "failed":
        body["failure_reason"] = "script_failure"
    body.update(extra)
    return body


def many_jobs(project_id: int, pipeline_id: int, first_id: int, count: int) -> list[Doc]:
    """`count` jobs with consecutive ids; statuses cycle so that scopes select subsets."""
    cycle = ("success", "failed", "running", "pending", "canceled")
    return [
        job(first_id + n, pipeline_id, cycle[n % len(cycle)], name=f"job-{first_id + n}")
        for n in range(count)
    ]


def job_token(job_id: int) -> str:
    """The CI_JOB_TOKEN `running` gives a job."""
    return f"job-{job_id}"


def running(job_id: int, pipeline_id: int, name: str, **extra: Any) -> Doc:
    """A running job whose token (`job_token`) can upload artifacts."""
    return job(job_id, pipeline_id, "running", name=name, token=job_token(job_id), **extra)
