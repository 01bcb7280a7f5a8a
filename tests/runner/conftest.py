"""The runner suite: gitlab-runner's calls (tests/support/runner.py) against a real
`artifactsvc serve` (uvicorn) process, on moto's S3 AND on SeaweedFS.

One server per module and backend, seeded once with many running jobs, so each test takes
jobs of its own (`Runners.job`) instead of paying for a process start. A test that needs
other settings starts its own with `Runners.server(**settings)`.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.runner.world import ADMIN, runner_world
from tests.support.apps import app_settings, import_document
from tests.support.database import Row, query
from tests.support.processes import ServerProcess, server_process
from tests.support.runner import RunnerClient
from tests.support.s3 import create_bucket
from tests.support.seaweed import SeaweedS3
from tests.support.storage import Storage

BACKENDS = ["moto", "seaweed"]


def backend_storage(request: pytest.FixtureRequest, backend: str) -> Storage:
    """A fresh bucket on the session's moto or SeaweedFS server."""
    if backend == "seaweed":
        seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
        credentials = {k: v for k, v in seaweed.env.items() if k.startswith("AWS_")}
        return Storage.s3(seaweed.endpoint_url, seaweed.create_bucket(), env=credentials)
    endpoint: str = request.getfixturevalue("moto_endpoint")
    return Storage.s3(endpoint, create_bucket(endpoint), "ci/artifacts")


@dataclass
class Runners:
    """A seeded service behind a real server, a runner pointed at it, and an admin's view."""

    server: ServerProcess
    runner: RunnerClient
    api: httpx2.Client
    database_url: str
    storage: Storage
    directory: Path
    backend: str
    _ids: dict[str, Iterator[int]] = field(default_factory=dict)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def job(self, kind: str = "running") -> int:
        """A job of that kind (`running`, `canceling`, `public`) no other test has used."""
        return next(self._ids[kind])

    def rows(self, job_id: int) -> list[Row]:
        return query(
            self.database_url,
            "SELECT * FROM artifacts WHERE job_id = ? ORDER BY file_type",
            (job_id,),
        )

    def job_json(self, job_id: int, project_id: int = 1) -> dict[str, Any]:
        response = self.api.get(f"/api/v4/projects/{project_id}/jobs/{job_id}", headers=ADMIN)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    @contextlib.contextmanager
    def other_server(self, **overrides: Any) -> Iterator[RunnerClient]:
        """The same database and bucket served with other settings (`download_mode=...`)."""
        with _serve(self.database_url, self.storage, self.directory, overrides) as server:
            yield RunnerClient(server.base_url)


@contextlib.contextmanager
def _serve(
    database_url: str, storage: Storage, directory: Path, overrides: dict[str, Any]
) -> Iterator[ServerProcess]:
    env = {
        **storage.env,
        "ARTIFACTSVC_DATABASE_URL": database_url,
        **{f"ARTIFACTSVC_{k.upper()}": str(v) for k, v in overrides.items()},
    }
    with server_process(env, cwd=directory) as server:
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def runners(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runners]:
    backend: str = request.param
    directory = tmp_path_factory.mktemp(f"runner-{backend}")
    database_url = f"sqlite:///{directory}/meta.db"
    storage = backend_storage(request, backend)
    import_document(app_settings(database_url, storage), runner_world(), directory)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(_serve(database_url, storage, directory, {}))
        api = stack.enter_context(httpx2.Client(base_url=server.base_url, timeout=60))
        found = Runners(
            server, RunnerClient(server.base_url), api, database_url, storage, directory, backend
        )
        found._ids = {
            "running": itertools.count(1000),
            "canceling": itertools.count(2000),
            "public": itertools.count(4000),
        }
        yield found
