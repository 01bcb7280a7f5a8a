"""What the runner suite seeds: the artifact suite's people and projects, plus enough jobs
for every test of a module to own some.

Project 1 (private; maint 40, dev 30, reporter 20): jobs 1000-1199 running, 2000-2049
canceling (a graceful cancel in progress), all of them `dev`'s. Project 4 (public, no
members): jobs 4000-4049 running, `dev`'s too. Every job's token is `job-<id>`.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from tests.artifacts.world import world
from tests.support.documents import job, job_token, pipeline, project, running
from tests.support.zips import sample_zip

ADMIN = {"PRIVATE-TOKEN": "root-token"}
MAINTAINER = {"PRIVATE-TOKEN": "maint-token"}
DEVELOPER = {"PRIVATE-TOKEN": "dev-token"}
REPORTER = {"PRIVATE-TOKEN": "reporter-token"}


def runner_world() -> dict[str, Any]:
    document = world()
    document["projects"].append(project(4, "group/open", "public"))
    document["pipelines"] += [pipeline(12, 1, ref="runner"), pipeline(40, 4, ref="main")]
    document["jobs"] += [
        *(running(n, 12, f"job-{n}", user="dev") for n in range(1000, 1200)),
        *(
            job(n, 12, "canceling", name=f"job-{n}", token=job_token(n), user="dev")
            for n in range(2000, 2050)
        ),
        *(running(n, 40, f"job-{n}", user="dev") for n in range(4000, 4050)),
    ]
    return document


def token(job_id: int) -> str:
    return job_token(job_id)


def payload(file_type: str, file_format: str, *, seed: int = 0) -> bytes:
    """Bytes a runner would upload for that type: a zip, a gzip report (a valid `.env` for
    dotenv), or raw JSON."""
    if file_format == "zip":
        return sample_zip(seed=seed)
    if file_format == "gzip":
        text = b"KEY=value\nOTHER=1\n" if file_type == "dotenv" else b"<report seed=%d/>\n" % seed
        return gzip.compress(text, mtime=0)
    return json.dumps({"version": "15.0.0", "type": file_type, "seed": seed}).encode()
