"""The edge suite: what a connection or a request body may cost before it is refused, the
headers every artifact response carries, and shutdown, against real `artifactsvc serve`
processes (uvicorn with the service's own protocol) over SQLite and a storage directory.

`Edge` is one seeded world on disk; `Edge.serve(**settings)` starts a server on it with its
own TMPDIR (`Edge.tmpdir`), so a test can list what a request left behind there and in
storage.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import app_settings, import_document
from tests.support.database import query
from tests.support.documents import job, pipeline, project, running, user
from tests.support.processes import ServerProcess, server_process
from tests.support.storage import Storage
from tests.support.zips import DEFLATED, STORED, Member, MiB, make_zip, noise

ROOT = {"PRIVATE-TOKEN": "edge-root-token"}
P1 = "/api/v4/projects/1"
SMALL_JOB, LARGE_JOB = 90, 91
LARGE_SIZE = 24 * MiB
# Members that would run in a browser if a response let them.
SMALL_MEMBERS = [
    Member("index.html", b"<script>alert(document.domain)</script>", DEFLATED),
    Member("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    Member("site/page.html", b"<html><body>report</body></html>", DEFLATED),
]


def small_archive() -> bytes:
    return make_zip(SMALL_MEMBERS)


def large_archive() -> bytes:
    return make_zip([Member("blob.bin", noise(LARGE_SIZE, seed=91), STORED)])


def edge_world() -> dict[str, Any]:
    jobs = [running(n, 10, f"run-{n}", user="root") for n in range(100, 160)]
    done = [
        job(SMALL_JOB, 10, "success", name="small", user="root",
            artifacts=[{"file_type": "archive", "path": "small.zip"}]),
        job(LARGE_JOB, 10, "success", name="large", user="root",
            artifacts=[{"file_type": "archive", "path": "large.zip"}]),
    ]  # fmt: skip
    return {
        "users": [user(1, "root", admin=True, tokens=("edge-root-token",))],
        "projects": [project(1, "edge/app", "public")],
        "pipelines": [pipeline(10, 1, ref="master")],
        "jobs": done + jobs,
    }


@dataclass
class Edge:
    directory: Path
    database_url: str
    storage: Storage
    tmpdir: Path
    _jobs: Iterator[int] = field(default_factory=lambda: itertools.count(100))

    def running_job(self) -> int:
        """A running job (its token: `job-<id>`) no other test of the module has used."""
        found = next(self._jobs)
        assert found < 160, "edge_world() has no more running jobs"
        return found

    @contextlib.contextmanager
    def serve(self, **settings: Any) -> Iterator[ServerProcess]:
        env = {
            **self.storage.env,
            "ARTIFACTSVC_DATABASE_URL": self.database_url,
            "TMPDIR": str(self.tmpdir),
            **{f"ARTIFACTSVC_{k.upper()}": str(v) for k, v in settings.items()},
        }
        with server_process(env, cwd=self.directory) as server:
            yield server

    def left_behind(self) -> list[str]:
        """Every file in the server's TMPDIR and in storage."""
        temporary = sorted(p.name for p in self.tmpdir.rglob("*") if p.is_file())
        return [f"tmp/{name}" for name in temporary] + self.storage.stored()

    def artifact_rows(self, job_id: int) -> list[dict[str, Any]]:
        return query(self.database_url, "SELECT * FROM artifacts WHERE job_id = ?", (job_id,))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Edge:
    directory = tmp_path_factory.mktemp("edge")
    (directory / "small.zip").write_bytes(small_archive())
    (directory / "large.zip").write_bytes(large_archive())
    storage = Storage.directory(directory / "objects")
    database_url = f"sqlite:///{directory}/meta.db"
    import_document(app_settings(database_url, storage), edge_world(), directory)
    tmpdir = directory / "tmp"
    tmpdir.mkdir()
    return Edge(directory, database_url, storage, tmpdir)


@pytest.fixture(scope="module")
def server(edge: Edge) -> Iterator[ServerProcess]:
    """A server on the defaults."""
    with edge.serve() as found:
        yield found
