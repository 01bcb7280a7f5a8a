"""Fixtures of the artifact suite: every test runs on local files AND on a real S3 server.

`storage_url` is parametrized over both backends (a fresh directory, or a fresh moto bucket
under a prefix), so one suite proves both; S3-only tests narrow it with
`@pytest.mark.parametrize("storage_url", ["s3"], indirect=True)`, and large archives use
`["seaweed"]` (a fresh bucket on the session's SeaweedFS). `make_service` builds the real app
over a seeded database and that storage; `service` is the default one (SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.artifacts.world import ROOT, world
from tests.support.apps import app_client, app_settings, import_document
from tests.support.processes import ServerProcess, server_process
from tests.support.s3 import create_bucket
from tests.support.seaweed import SeaweedS3
from tests.support.service import Service
from tests.support.storage import Storage


@pytest.fixture(params=["files", "s3"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """ARTIFACTSVC_STORAGE_URL (+ ARTIFACTSVC_S3_ENDPOINT_URL): a directory or a moto bucket."""
    if request.param == "files":
        return Storage.directory(tmp_path / "objects")
    if request.param == "seaweed":  # large archives only: @parametrize(..., indirect=True)
        seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
        credentials = {k: v for k, v in seaweed.env.items() if k.startswith("AWS_")}
        return Storage.s3(seaweed.endpoint_url, seaweed.create_bucket(), env=credentials)
    endpoint: str = request.getfixturevalue("moto_endpoint")
    return Storage.s3(endpoint, create_bucket(endpoint), "ci/artifacts")


@pytest.fixture
def make_service(
    storage_url: Storage, sqlite_url: str, tmp_path: Path
) -> Iterator[Callable[..., Service]]:
    """Builds the real app over `storage_url` and seeds `world()` (unless `seed=False`).

    In this process behind Starlette's TestClient by default; `real=True` runs
    `artifactsvc serve` (uvicorn) as a process instead, for what only a real connection shows:
    a body arriving piece by piece, a client going away, a connection aborted mid-body.
    """
    with ExitStack() as stack:

        def build(
            database_url: str | None = None,
            *,
            seed: dict[str, Any] | bool = True,
            storage: Storage | None = None,
            real: bool = False,
            **overrides: Any,
        ) -> Service:
            store = storage or storage_url
            settings = app_settings(database_url or sqlite_url, store, **overrides)
            if seed is not False:
                import_document(settings, world() if seed is True else seed, tmp_path)
            client: httpx2.Client
            server: ServerProcess | None = None
            if real:
                env = {
                    **store.env,
                    "ARTIFACTSVC_DATABASE_URL": settings.database_url,
                    **{f"ARTIFACTSVC_{k.upper()}": str(v) for k, v in overrides.items()},
                }
                server = stack.enter_context(server_process(env, cwd=tmp_path))
                client = stack.enter_context(httpx2.Client(base_url=server.base_url, timeout=60))
            else:
                client = stack.enter_context(app_client(settings))
            return Service(client, settings, store, tmp_path, ROOT, server)

        yield build


@pytest.fixture
def service(make_service: Callable[..., Service]) -> Service:
    return make_service()
