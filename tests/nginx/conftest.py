"""The nginx suite: Debian's nginx (/usr/sbin/nginx), configured by `artifactsvc nginx-config`,
in front of a real `artifactsvc serve`, on local files and on moto's S3, in proxy and in accel
mode. One stack per module and combination, seeded once and given one archive that a
runner uploaded through nginx (chunked, as gitlab-runner sends it).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.runner.world import runner_world, token
from tests.support.apps import app_settings, import_document
from tests.support.nginx import NginxProcess, nginx_process
from tests.support.processes import ServerProcess, free_port, server_process
from tests.support.runner import Answer, ArtifactsOptions, RunnerClient, UploadState
from tests.support.s3 import create_bucket
from tests.support.storage import Storage
from tests.support.zips import DEFLATED, STORED, Member, make_zip, noise

STACKS = [("files", "proxy"), ("files", "accel"), ("s3", "proxy"), ("s3", "accel")]
UPLOADED = 1000  # the job whose archive the fixture uploads
DEFLATED_TEXT = b"console.log('hello');\n" * 4000
STORED_BYTES = noise(300_000, 7)


def archive() -> bytes:
    return make_zip(
        [
            Member("dist/app.js", DEFLATED_TEXT, DEFLATED),
            Member("dist/blob.bin", STORED_BYTES, STORED),
            Member("README.md", b"through nginx\n", DEFLATED),
        ]
    )


@dataclass
class Stack:
    """nginx in front of the service, and the service itself (for its /metrics)."""

    nginx: NginxProcess
    server: ServerProcess
    store: str
    storage: Storage
    mode: str
    archive: bytes
    upload: tuple[UploadState, Answer]
    _jobs: Iterator[int] = field(default_factory=lambda: itertools.count(UPLOADED + 1))

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.nginx.base_url, timeout=30)

    def runner(self) -> RunnerClient:
        return RunnerClient(self.nginx.base_url)

    def job(self) -> int:
        """A running job of project 1 that no other test of the module has used."""
        return next(self._jobs)

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the service's own /metrics, asked of it directly (not via nginx)."""
        text = httpx2.get(f"{self.server.base_url}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0


@pytest.fixture(scope="module", params=STACKS, ids=["-".join(s) for s in STACKS])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    store, mode = request.param
    directory = tmp_path_factory.mktemp(f"nginx-{store}-{mode}")
    if store == "files":
        storage = Storage.directory(directory / "objects")
    else:
        endpoint: str = request.getfixturevalue("moto_endpoint")
        storage = Storage.s3(endpoint, create_bucket(endpoint), "ci")
    database_url = f"sqlite:///{directory}/meta.db"
    import_document(app_settings(database_url, storage), runner_world(), directory)
    port = free_port()
    env = {
        **storage.env,
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_DOWNLOAD_MODE": mode,
        "ARTIFACTSVC_EXTERNAL_URL": f"http://127.0.0.1:{port}",
    }
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(server_process(env, cwd=directory))
        service_port = server.base_url.rsplit(":", 1)[1]
        nginx = stack.enter_context(
            nginx_process(
                {**env, "ARTIFACTSVC_PORT": service_port}, directory=directory / "nginx", port=port
            )
        )
        data = archive()
        uploaded = RunnerClient(nginx.base_url).upload_raw_artifacts(
            UPLOADED, token(UPLOADED), [data], ArtifactsOptions()
        )
        yield Stack(nginx, server, store, storage, mode, data, uploaded)
