"""Object stores as the service uses them, and two looks at them that do not go through it.

`Storage` is one store as the service is configured for it (`env`, `settings`, `adapter`) plus
a look behind its back (`stored`, `uploads`, `put`, ...), so a test can prove what was left.
`counting_store` wraps an adapter in the production `InstrumentedObjectStore` with an observer
that records every call: verb, key, range, and the bytes actually delivered or sent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from artifactsvc.objects import ObjectStore
from artifactsvc.objects.factory import open_object_store
from artifactsvc.objects.filesystem import TEMP_PREFIX
from artifactsvc.objects.instrumented import InstrumentedObjectStore, StorageCall

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

READS = ("get_range", "stream")
MOTO_ENV = {  # fake credentials, and no real profile: boto3 talks to moto, never to AWS
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def s3_client_for(endpoint_url: str, env: Mapping[str, str] = MOTO_ENV) -> S3Client:
    """A plain client for arranging and inspecting a bucket behind the code under test, with
    the credentials in `env` (moto's by default)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass
class Storage:
    """An object store the service is pointed at, and a direct look at what it holds."""

    kind: str  # "files" or "s3"
    url: str
    endpoint_url: str | None = None
    root: Path | None = None
    bucket: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    """Credentials of an S3 server other than moto (AWS_*), for a service process."""

    @classmethod
    def directory(cls, root: Path) -> Storage:
        return cls("files", str(root), root=root)

    @classmethod
    def s3(
        cls, endpoint_url: str, bucket: str, prefix: str = "", *, env: dict[str, str] | None = None
    ) -> Storage:
        """`s3://bucket/prefix` on `endpoint_url`; `env`: AWS_* credentials other than moto's."""
        url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        return cls("s3", url, endpoint_url=endpoint_url, bucket=bucket, extra_env=env or {})

    @property
    def env(self) -> dict[str, str]:
        env = {**self.extra_env, "ARTIFACTSVC_STORAGE_URL": self.url}
        if self.endpoint_url is not None:
            env["ARTIFACTSVC_S3_ENDPOINT_URL"] = self.endpoint_url
        return env

    @property
    def settings(self) -> dict[str, Any]:
        return {"storage_url": self.url, "s3_endpoint_url": self.endpoint_url}

    def adapter(self, executor: ThreadPoolExecutor) -> ObjectStore:
        """A plain adapter over this store, built by the production factory."""
        return open_object_store(
            self.url,
            endpoint_url=self.endpoint_url,
            connect_timeout=2,
            read_timeout=10,
            executor=executor,
        )

    def _client(self) -> S3Client:
        assert self.endpoint_url is not None
        return s3_client_for(self.endpoint_url, self.extra_env or MOTO_ENV)

    def stored(self) -> list[str]:
        """Every name the store holds: objects, and temporary files on a filesystem."""
        if self.root is not None:
            if not self.root.exists():
                return []
            return sorted(
                p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
            )
        listing = self._client().list_objects_v2(Bucket=self.bucket or "")
        return sorted(found["Key"] for found in listing.get("Contents", []))

    def uploads(self) -> list[str]:
        """Incomplete uploads: open multipart uploads, or temporary files."""
        if self.root is not None:
            return [key for key in self.stored() if key.rpartition("/")[2].startswith(TEMP_PREFIX)]
        listing = self._client().list_multipart_uploads(Bucket=self.bucket or "")
        return sorted(upload["Key"] for upload in listing.get("Uploads", []))

    def put(self, key: str, data: bytes) -> None:
        """Write an object behind the service's back (an orphan), under the service's prefix."""
        if self.root is not None:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        self._client().put_object(Bucket=self.bucket or "", Key=self.name(key), Body=data)

    def remove(self, key: str) -> None:
        """Delete an object behind the service's back (`key` as the service names it)."""
        if self.root is not None:
            (self.root / key).unlink()
            return
        self._client().delete_object(Bucket=self.bucket or "", Key=self.name(key))

    def name(self, key: str) -> str:
        """Where the service stores `key`: the S3 prefix is part of the name in the bucket."""
        if self.root is not None:
            return key
        prefix = self.url.removeprefix(f"s3://{self.bucket}").strip("/")
        return f"{prefix}/{key}" if prefix else key

    def stale_upload(self, key: str) -> None:
        """Leave an incomplete upload of `key` behind, started long ago."""
        if self.root is not None:
            path = self.root / key
            temp = path.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex[:16]}"
            temp.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(b"partial")
            stamp = (datetime.now(UTC) - timedelta(days=2)).timestamp()
            os.utime(temp, (stamp, stamp))
            return
        # moto reports every multipart upload as initiated in 2010.
        self._client().create_multipart_upload(Bucket=self.bucket or "", Key=self.name(key))

    def backdate(self, key: str, age: timedelta) -> None:
        """Make `key` look `age` old to a lister."""
        then = datetime.now(UTC) - age
        if self.root is not None:
            stamp = then.timestamp()
            os.utime(self.root / key, (stamp, stamp))
            return
        # moto runs in this process (ThreadedMotoServer); S3 itself cannot set LastModified.
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[self.bucket or ""]
        bucket.keys[self.name(key)].last_modified = then.replace(tzinfo=None)


@dataclass
class CallLog:
    """Every call an `InstrumentedObjectStore` reported, in the order they were made."""

    calls: list[StorageCall] = field(default_factory=list)

    def __call__(self, call: StorageCall) -> None:
        self.calls.append(call)

    def reset(self) -> None:
        self.calls.clear()

    def reads(self, key: str | None = None) -> list[StorageCall]:
        return [c for c in self.calls if c.verb in READS and (key is None or c.key == key)]

    def verbs(self) -> list[str]:
        return [c.verb for c in self.calls]


def counting_store(inner: ObjectStore) -> tuple[InstrumentedObjectStore, CallLog]:
    """`inner` behind the production instrumentation, with every call logged."""
    log = CallLog()
    return InstrumentedObjectStore(inner, lambda verb: None, observe=log), log
