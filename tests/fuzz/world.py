"""The world the API fuzzer runs against: two projects (one public, one private), pipelines
on two refs, jobs in most states (with archives, a manual one, a bridge, running ones whose
tokens the runner routes take), seeded through `artifactsvc import` as an operator would.

`DICTIONARIES` are the ids and names that exist, so schemathesis reaches real rows most of
the time instead of answering 404 to random integers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.documents import job, pipeline, project, running, user
from tests.support.zips import DEFLATED, STORED, Member, make_zip, text

ROOT = ROOT_TOKEN = "glpat-fuzz-root"
DEV_TOKEN = "glpat-fuzz-developer"
RUNNING_JOB = 103  # the job whose token (`job-103`) the runner routes are called with
JOB_TOKEN = f"job-{RUNNING_JOB}"
RUNNING_JOBS = (RUNNING_JOB, 201)

MEMBERS = [
    Member("README.md", b"# fuzz\n", DEFLATED),
    Member("index.html", b"<html><script>alert(1)</script></html>", DEFLATED),
    Member("dist/", b""),
    Member("dist/app.js", text(40_000, 1), DEFLATED),
    Member("dist/blob.bin", bytes(range(256)) * 64, STORED),
    Member("docs/a/b.txt", b"deep\n", DEFLATED),
    Member("docs/link", b"../README.md", symlink=True),
]


def document() -> dict[str, Any]:
    archive = [{"file_type": "archive", "path": "fuzz.zip"}]
    return {
        "users": [
            {**user(1, "root", admin=True), "tokens": [{"token": ROOT, "scopes": ["api", "sudo"]}]},
            user(2, "dev", tokens=(DEV_TOKEN,)),
        ],
        "projects": [
            project(1, "fuzz/public", "public", {"dev": 30}, default_branch="master"),
            project(2, "fuzz/private", "private", {"dev": 40}, default_branch="master"),
            project(3, "fuzz/scratch", "public", {"dev": 40}, default_branch="master"),
        ],
        "pipelines": [
            pipeline(10, 1),
            pipeline(11, 1, ref="feature/x"),
            pipeline(20, 2),
            pipeline(30, 3),
        ],
        "jobs": [
            job(100, 10, name="build", user="root", artifacts=archive, trace="built\n"),
            job(101, 10, "failed", name="test", user="dev", artifacts=archive),
            job(102, 10, "manual", name="deploy", when="manual"),
            running(RUNNING_JOB, 10, "upload", user="root"),
            job(104, 10, "pending", name="trigger", kind="bridge", downstream_pipeline_id=11),
            job(105, 10, "canceled", name="stopped"),
            job(110, 11, name="build", artifacts=archive),
            job(200, 20, name="build", user="dev", artifacts=archive),
            running(201, 20, "upload", user="dev"),
            # What the destructive operations are pointed at (SCRATCH), so that the archives
            # above stay downloadable all run long.
            job(106, 10, "failed", name="scratch", user="dev", artifacts=archive),
            job(107, 10, name="scratch-too", artifacts=archive),
            job(300, 30, name="build", artifacts=archive),
            job(301, 30, "failed", name="test", artifacts=archive),
        ],
    }


DICTIONARIES: dict[str, list[Any]] = {
    "projects": [1, 2, "fuzz/public", "fuzz/private"],
    "jobs": [100, 101, 102, RUNNING_JOB, 104, 105, 110, 200, 201],
    "runner_jobs": [RUNNING_JOB],
    "scratch_projects": [3],
    "scratch_jobs": [101, 105, 106, 107, 300, 301],
    "pipelines": [10, 11, 20],
    "files": ["README.md", "index.html", "dist/app.js", "dist/blob.bin", "docs/a/b.txt"],
    "folders": ["", "dist", "docs", "docs/a", "dist/app.js"],
    "refs": ["master", "feature/x"],
    "names": ["build", "test"],
}


def write(directory: Path) -> Path:
    """The import file and its archive in `directory`; returns the import file."""
    (directory / "fuzz.zip").write_bytes(make_zip(MEMBERS))
    path = directory / "fuzz-world.json"
    path.write_text(json.dumps(document()))
    return path
