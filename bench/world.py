"""The parts a run stands up: SeaweedFS, a bucket, a SQLite database seeded with running jobs.

Project 1 (private) has one pipeline and three running jobs, each able to upload one archive:
`FILES_JOB` the many-files archive (single-file reads), `STREAM_JOB` the big one (memory,
throughput), `SMALL_JOB` a 1 MiB one (cold reads). Reads use the admin's private token.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.servers import Service, service_process
from tests.support.apps import import_document
from tests.support.seaweed import SeaweedS3, running_seaweed, weed_binary

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

PROJECT = 1
FILES_JOB = 101
STREAM_JOB = 102
SMALL_JOB = 103  # a 1 MiB archive: cold reads where the central directory is small
UPLOAD_JOBS = tuple(range(111, 119))  # one upload each: the timed upload rounds
ADMIN_TOKEN = "glpat-bench-admin-token"
SHA = "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd"
MAX_ARTIFACT_SIZE = 8 << 30


def job_token(job_id: int) -> str:
    return f"bench-job-token-{job_id}"


def seed_document() -> dict[str, Any]:
    started = "2024-05-01T12:00:00.000Z"
    return {
        "users": [
            {
                "id": 1,
                "username": "bench",
                "name": "Bench",
                "email": "bench@example.com",
                "admin": True,
                "tokens": [ADMIN_TOKEN],
            }
        ],
        "projects": [{"id": PROJECT, "path_with_namespace": "bench/archives"}],
        "pipelines": [
            {
                "id": 1,
                "iid": 1,
                "project_id": PROJECT,
                "ref": "main",
                "sha": SHA,
                "status": "running",
                "created_at": started,
            }
        ],
        "jobs": [
            {
                "id": job_id,
                "pipeline_id": 1,
                "name": name,
                "stage": "build",
                "status": "running",
                "user": "bench",
                "token": job_token(job_id),
                "created_at": started,
                "started_at": started,
            }
            for job_id, name in (
                (FILES_JOB, "files"),
                (STREAM_JOB, "stream"),
                (SMALL_JOB, "small"),
                *((job_id, f"upload-{job_id}") for job_id in UPLOAD_JOBS),
            )
        ],
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def weed_version() -> str:
    out = subprocess.run(
        [weed_binary(), "version"], capture_output=True, text=True, timeout=30
    ).stdout
    found = re.search(r"version \S+ (\d+\.\d+)", out)
    return found.group(1) if found else "?"


def host_description() -> str:
    return f"{os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}"


@dataclass
class World:
    workdir: Path
    seaweed: SeaweedS3
    bucket: str
    database_url: str
    machine: str

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.seaweed.env,
            "ARTIFACTSVC_STORAGE_URL": f"s3://{self.bucket}",
            "ARTIFACTSVC_DATABASE_URL": self.database_url,
            "ARTIFACTSVC_MAX_ARTIFACT_SIZE": str(MAX_ARTIFACT_SIZE),
            "ARTIFACTSVC_DEFAULT_EXPIRE_IN": "never",
        }

    def service(self) -> AbstractContextManager[Service]:
        """A fresh server process over this world's database and bucket."""
        return service_process(self.env, cwd=self.workdir)

    def s3(self) -> S3Client:
        return self.seaweed.client()

    def archive_key(self, job_id: int) -> str:
        """The object key the service gave the job's archive (its sidecar ends in .index)."""
        listing = self.s3().list_objects_v2(
            Bucket=self.bucket, Prefix=f"projects/{PROJECT}/jobs/{job_id}/"
        )
        keys = [o["Key"] for o in listing.get("Contents", []) if not o["Key"].endswith(".index")]
        if len(keys) != 1:
            raise RuntimeError(f"expected one archive object for job {job_id}, found {keys}")
        return keys[0]


@contextmanager
def running_world(workdir: Path) -> Iterator[World]:
    with running_seaweed(workdir / "seaweed") as seaweed:
        bucket = seaweed.create_bucket()
        database_url = f"sqlite:///{workdir / 'meta.db'}"
        import_document(database_url, seed_document(), workdir)
        machine = (
            f"{host_description()}, SeaweedFS {weed_version()} `weed mini` on loopback, "
            "artifactsvc: 1 uvicorn worker, SQLite"
        )
        yield World(workdir, seaweed, bucket, database_url, machine)
