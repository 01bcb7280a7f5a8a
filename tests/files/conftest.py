"""One seeded store for the session (tests/files/world.py), an in-process client over it and
a real `artifactsvc serve` process over the same database and objects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.files.world import UPLOADS, document
from tests.support.apps import app_client, app_settings, import_document
from tests.support.processes import ServerProcess, server_process
from tests.support.service import finish, upload_archive


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
    archives = {job_id: build() for job_id, (_, _, build) in UPLOADS.items()}
    with app_client(app_settings(database_url, storage)) as client:
        for job_id, data in archives.items():
            upload_archive(client, job_id, data)
            finish(client, job_id)
        yield World(directory, database_url, storage, client, archives)


@pytest.fixture(scope="session")
def served(world: World) -> Iterator[ServerProcess]:
    """A real uvicorn process serving the world."""
    with server_process(world.env, cwd=world.directory) as server:
        yield server


@pytest.fixture(scope="session")
def server(served: ServerProcess) -> str:
    """Base URL of `served`."""
    return served.base_url
