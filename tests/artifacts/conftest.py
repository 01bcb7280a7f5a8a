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

import httpx
import pytest
from starlette.testclient import TestClient

from artifactsvc.app import create_app
from artifactsvc.settings import Settings
from tests.artifacts.support import Service, Storage, import_file, world
from tests.s3server import create_bucket
from tests.seaweed import SeaweedS3
from tests.support import serve_process

EXTERNAL = "http://artifacts.test"


@pytest.fixture(params=["files", "s3"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """ARTIFACTSVC_STORAGE_URL (+ ARTIFACTSVC_S3_ENDPOINT_URL): a directory or a moto bucket."""
    if request.param == "files":
        root = tmp_path / "objects"
        return Storage("files", str(root), root=root)
    if request.param == "seaweed":  # large archives only: @parametrize(..., indirect=True)
        seaweed: SeaweedS3 = request.getfixturevalue("seaweed")
        bucket = seaweed.create_bucket()
        return Storage(
            "s3", f"s3://{bucket}", endpoint_url=seaweed.endpoint_url, bucket=bucket,
            extra_env={k: v for k, v in seaweed.env.items() if k.startswith("AWS_")},
        )  # fmt: skip
    endpoint: str = request.getfixturevalue("moto_endpoint")
    bucket = create_bucket(endpoint)
    return Storage("s3", f"s3://{bucket}/ci/artifacts", endpoint_url=endpoint, bucket=bucket)


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
            settings = Settings(
                database_url=database_url or sqlite_url,
                external_url=EXTERNAL,
                **{**store.settings, **overrides},
            )
            if seed is not False:
                document = world() if seed is True else seed
                assert import_file(settings, document, tmp_path) == 0
            client: httpx.Client
            if real:
                env = {
                    **store.env,
                    "ARTIFACTSVC_DATABASE_URL": settings.database_url,
                    **{f"ARTIFACTSVC_{k.upper()}": str(v) for k, v in overrides.items()},
                }
                base = stack.enter_context(serve_process(env, cwd=tmp_path))
                client = stack.enter_context(httpx.Client(base_url=base, timeout=60))
            else:
                client = stack.enter_context(TestClient(create_app(settings), base_url=EXTERNAL))
            return Service(client, settings, store, settings.database_url, tmp_path)

        yield build


@pytest.fixture
def service(make_service: Callable[..., Service]) -> Service:
    return make_service()
