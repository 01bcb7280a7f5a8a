"""Import documents the API tests seed (CONTRACT section 3), and a client over the real app.

Builders return plain dicts in the import format, so every test seeds exactly what
`artifactsvc import` would store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from artifactsvc.app import create_app
from artifactsvc.settings import Settings

ROOT_DIR = Path(__file__).resolve().parent.parent
EXTERNAL = "http://artifacts.test"
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


@contextmanager
def app_client(
    database_url: str, storage: Path, *, external_url: str = EXTERNAL
) -> Iterator[TestClient]:
    """The real app (create_app) over a seeded store, behind Starlette's TestClient."""
    settings = Settings(
        database_url=database_url, storage_url=str(storage), external_url=external_url
    )
    with TestClient(create_app(settings), base_url=external_url) as client:
        yield client


def run_artifactsvc(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m artifactsvc ARGS` as a real process with ARTIFACTSVC_* taken from `env` only."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    return subprocess.run(
        [sys.executable, "-m", "artifactsvc", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
