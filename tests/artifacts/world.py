"""The world every artifact test starts from, and the tokens its callers present.

Project 1 (group/app) lets project 2's jobs read its artifacts; project 3 is a stranger.
Jobs 100, 101, 110, 200 and 300 are running (their tokens work); 102 has finished.
"""

from __future__ import annotations

from typing import Any

from tests.support.documents import job, job_token, pipeline, project, running, user

ROOT = {"PRIVATE-TOKEN": "root-token"}
MAINTAINER = {"PRIVATE-TOKEN": "maint-token"}
DEVELOPER = {"PRIVATE-TOKEN": "dev-token"}
REPORTER = {"PRIVATE-TOKEN": "reporter-token"}
P1 = "/api/v4/projects/1"


def world() -> dict[str, Any]:
    return {
        "users": [
            user(1, "root", admin=True, tokens=("root-token",)),
            user(2, "maint", tokens=("maint-token",)),
            user(3, "dev", tokens=("dev-token",)),
            user(4, "reporter", tokens=("reporter-token",)),
        ],
        "projects": [
            project(1, "group/app", "private", {"maint": 40, "dev": 30, "reporter": 20},
                    ci_job_token_allowlist=[2]),
            project(2, "group/friend", "private"),
            project(3, "group/stranger", "private"),
        ],
        "pipelines": [
            pipeline(10, 1, ref="master"),
            pipeline(11, 1, ref="feature/x"),
            pipeline(20, 2),
            pipeline(30, 3),
        ],
        "jobs": [
            running(100, 10, "build", user="dev"),
            running(101, 10, "test"),
            job(102, 10, "success", name="lint", token=job_token(102)),
            running(110, 11, "build"),
            # A job token acts as its job's user: dev is a member of project 1 (not 2 or 3).
            running(200, 20, "consumer", user="dev"),
            running(300, 30, "stranger", user="dev"),
        ],
    }  # fmt: skip


def token(job_id: int) -> dict[str, str]:
    """The JOB-TOKEN header of a job of `world()`."""
    return {"JOB-TOKEN": job_token(job_id)}
