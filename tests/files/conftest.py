"""One seeded store for the session (tests/files/world.py), an in-process client over it and
a real `artifactsvc serve` process over the same database and objects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from artifactsvc.app import create_app
from artifactsvc.settings import Settings
from tests.files.support import succeed, upload
from tests.files.world import UPLOADS, document
from tests.support import import_document, serve_process

EXTERNAL = "http://artifacts.test"


@dataclass(frozen=True)
class World:
    directory: Path
    database_url: str
    storage: Path
    client: TestClient
    archives: dict[int, bytes]  # job id -> the bytes uploaded

    @property
    def env(self) -> dict[str, str]:
        return {
            "ARTIFACTSVC_DATABASE_URL": self.database_url,
            "ARTIFACTSVC_STORAGE_URL": str(self.storage),
        }


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("files-world")
    database_url = f"sqlite:///{directory}/meta.db"
    storage = directory / "objects"
    import_document(database_url, document(), directory)
    settings = Settings(database_url=database_url, storage_url=str(storage), external_url=EXTERNAL)
    archives = {job_id: build() for job_id, (_, _, build) in UPLOADS.items()}
    with TestClient(create_app(settings), base_url=EXTERNAL) as client:
        for job_id, data in archives.items():
            upload(client, job_id, data)
            succeed(client, job_id)
        yield World(directory, database_url, storage, client, archives)


@pytest.fixture(scope="session")
def server(world: World) -> Iterator[str]:
    """Base URL of a real uvicorn process serving the world."""
    with serve_process(world.env, cwd=world.directory) as base:
        yield base
