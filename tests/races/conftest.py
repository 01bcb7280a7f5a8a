"""Two real `artifactsvc serve` processes on one database (a SQLite file, or one PostgreSQL
schema) and one moto bucket: what several replicas behind a load balancer share.

One pair of servers per database for the whole package, seeded once (a process start costs
seconds); each test takes jobs of its own.
Project 1 as the artifact suite seeds it, plus: jobs 1000-1199 running (runner suite),
5000-5049 failed (retryable), 5100-5149 pending (cancelable), 5200-5249 manual (playable).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest

from tests.runner.world import runner_world
from tests.support.apps import app_settings, import_document
from tests.support.database import postgres_schema
from tests.support.documents import job, job_token
from tests.support.processes import ServerProcess, server_process
from tests.support.s3 import create_bucket
from tests.support.storage import Storage

T = TypeVar("T")


@dataclass
class Replicas:
    servers: list[ServerProcess]
    clients: list[httpx2.Client]
    database_url: str
    storage: Storage
    directory: Path
    env: dict[str, str]
    _ids: dict[str, Iterator[int]] = field(default_factory=dict)

    def job(self, kind: str) -> int:
        """A job of that kind (`running`, `failed`, `pending`, `manual`) no test used yet."""
        return next(self._ids[kind])

    def at_once(self, n: int, call: Callable[[httpx2.Client], T]) -> list[T]:
        """`call` n times at the same moment, alternating between the two replicas."""
        start = threading.Barrier(n)

        def one(i: int) -> T:
            start.wait()
            return call(self.clients[i % len(self.clients)])

        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(one, range(n)))


def race_world() -> dict[str, Any]:
    document = runner_world()
    document["jobs"] += [
        *(job(n, 12, "failed", name=f"job-{n}", token=job_token(n)) for n in range(5000, 5050)),
        *(job(n, 12, "pending", name=f"job-{n}", token=job_token(n)) for n in range(5100, 5150)),
        *(
            job(n, 12, "manual", name=f"job-{n}", token=job_token(n), when="manual")
            for n in range(5200, 5250)
        ),
    ]
    return document


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    directory = tmp_path_factory.mktemp(f"races-{request.param}")
    endpoint: str = request.getfixturevalue("moto_endpoint")
    storage = Storage.s3(endpoint, create_bucket(endpoint), "ci/artifacts")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{directory}/meta.db"
        else:
            database_url = stack.enter_context(postgres_schema())
        import_document(app_settings(database_url, storage), race_world(), directory)
        env = {**storage.env, "ARTIFACTSVC_DATABASE_URL": database_url}
        servers = [stack.enter_context(server_process(env, cwd=directory)) for _ in range(2)]
        clients = [
            stack.enter_context(httpx2.Client(base_url=server.base_url, timeout=60))
            for server in servers
        ]
        found = Replicas(servers, clients, database_url, storage, directory, env)
        found._ids = {
            "running": itertools.count(1000),
            "failed": itertools.count(5000),
            "pending": itertools.count(5100),
            "manual": itertools.count(5200),
        }
        yield found
