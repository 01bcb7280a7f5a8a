"""One real `artifactsvc serve` for the package, talking to moto through a `FaultProxy`.

The storage deadline is 1 s and the S3 read timeout 5 s, so an answer within the bound
proves the deadline cut the call short (botocore alone would take 3 x 5 s). Each test
heals the proxy afterwards and waits until the service is ready again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest

from tests.artifacts.world import world
from tests.support.apps import app_settings, import_document
from tests.support.database import Row, artifact_rows
from tests.support.documents import running
from tests.support.faults import FaultProxy, fault_proxy
from tests.support.processes import ServerProcess, server_process, wait_for
from tests.support.s3 import create_bucket
from tests.support.service import finish, upload
from tests.support.storage import Storage
from tests.support.zips import sample_zip

DEADLINE = 1.0
READ_TIMEOUT = 5.0
# Generous slack on a loaded 2-core machine; without the deadline a hang takes 15 s or more.
BOUND = DEADLINE + 3.0
# Running jobs of project 1 beyond world()'s, one for each test that uploads.
SPARE_JOBS = range(120, 140)


@dataclass
class Faulty:
    client: httpx2.Client
    proxy: FaultProxy
    storage: Storage  # straight to moto, to list what the bucket holds
    database_url: str
    server: ServerProcess
    archive: bytes

    def rows(self) -> list[Row]:
        return artifact_rows(self.database_url)

    def ready(self) -> bool:
        return self.client.get("/-/readiness").status_code == 200


@pytest.fixture(scope="package")
def faulty_world(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    directory = tmp_path_factory.mktemp("faults")
    bucket = create_bucket(moto_endpoint)
    direct = Storage.s3(moto_endpoint, bucket, "ci/artifacts")
    database_url = f"sqlite:///{directory}/meta.db"
    with fault_proxy(moto_endpoint) as proxy:
        proxied = Storage.s3(proxy.url, bucket, "ci/artifacts")
        document = world()
        document["jobs"] += [running(job, 10, f"extra-{job}") for job in SPARE_JOBS]
        import_document(app_settings(database_url, proxied), document, directory)
        env = {
            **proxied.env,
            "ARTIFACTSVC_DATABASE_URL": database_url,
            "ARTIFACTSVC_STORAGE_DEADLINE": str(DEADLINE),
            "ARTIFACTSVC_S3_READ_TIMEOUT": str(READ_TIMEOUT),
            "ARTIFACTSVC_S3_CONNECT_TIMEOUT": "1",
        }
        with (
            server_process(env, cwd=directory) as server,
            httpx2.Client(base_url=server.base_url, timeout=60) as client,
        ):
            archive = sample_zip(seed=9)
            answer = upload(client, 100, archive, after={"expire_in": "never"})
            assert answer.status_code == 201, answer.text
            finish(client, 100)
            yield Faulty(client, proxy, direct, database_url, server, archive)


@pytest.fixture
def faulty(faulty_world: Faulty) -> Iterator[Faulty]:
    yield faulty_world
    faulty_world.proxy.heal()
    wait_for(faulty_world.ready, timeout=30, what="readiness after the fault")
