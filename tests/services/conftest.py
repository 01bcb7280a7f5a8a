"""The middle layer built directly, without HTTP: the runtime `build_runtime` wires over a
real SQLite file and real files under tmp_path, seeded with domain records.

Services hold thread bridges bound to the event loop they first run on, so each scenario
builds its runtime inside the one `asyncio.run` that drives it (`Worlds.run`), and closes it
there. Every world starts with the same people and projects (below); a test seeds the
pipelines, jobs and traces it is about, so each test shows the records it relies on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from typing import TypeVar
from zipfile import ZIP_DEFLATED, ZIP_STORED

import pytest

from artifactsvc.access import Access
from artifactsvc.artifacts import Download
from artifactsvc.auth import Credentials, hash_token
from artifactsvc.files import MemberFile
from artifactsvc.metadata import ImportBatch, Membership
from artifactsvc.models import (
    DEVELOPER,
    MAINTAINER,
    REPORTER,
    Artifact,
    Job,
    Pipeline,
    Project,
    User,
)
from artifactsvc.settings import Settings
from artifactsvc.uploads import FILE_TYPES, Upload
from artifactsvc.wiring import Runtime, build_runtime
from tests.support import streams, zips
from tests.support.zips import Member

T = TypeVar("T")

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
PAST = datetime(2020, 1, 1, tzinfo=UTC)  # an expire_at long gone
MAX_SIZE = 10 * 1024 * 1024


class Person(IntEnum):
    """The seeded users, by id; each one's token is "tok-" + its username."""

    ADMIN = 1
    MAINTAINER = 2
    DEVELOPER = 3
    REPORTER = 4
    OUTSIDER = 5  # a member of nothing
    BLOCKED = 6  # a developer whose account is blocked
    OTHER_DEVELOPER = 7

    @property
    def username(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def token(self) -> str:
        return f"tok-{self.username}"


# Projects. TRUSTING's job-token allowlist names PRIVATE; CLOSED's names nobody.
PRIVATE, INTERNAL, PUBLIC, TRUSTING, CLOSED = 1, 2, 3, 4, 5
PATHS = {
    PRIVATE: "group/private",
    INTERNAL: "group/internal",
    PUBLIC: "group/public",
    TRUSTING: "partner/trusting",
    CLOSED: "partner/closed",
}
VISIBILITY = {
    PRIVATE: "private",
    INTERNAL: "internal",
    PUBLIC: "public",
    TRUSTING: "private",
    CLOSED: "private",
}
# Members of PRIVATE only.
MEMBERS = {
    Person.MAINTAINER: MAINTAINER,
    Person.DEVELOPER: DEVELOPER,
    Person.REPORTER: REPORTER,
    Person.BLOCKED: DEVELOPER,
    Person.OTHER_DEVELOPER: DEVELOPER,
}


def master(project_id: int) -> int:
    """The id of the project's seeded successful pipeline on master."""
    return 100 * project_id


MASTER = master(PRIVATE)


def user(person: Person) -> User:
    return User(
        id=int(person),
        username=person.username,
        name=person.username.title(),
        email=f"{person.username}@example.com",
        admin=person is Person.ADMIN,
        state="blocked" if person is Person.BLOCKED else "active",
        created_at=EPOCH,
    )


def project(project_id: int) -> Project:
    return Project(
        id=project_id,
        path_with_namespace=PATHS[project_id],
        name=PATHS[project_id].rsplit("/", 1)[-1],
        visibility=VISIBILITY[project_id],
        description=None,
        default_branch="master",
        created_at=EPOCH,
    )


def pipeline(
    pipeline_id: int, *, project_id: int = PRIVATE, ref: str = "master", status: str = "success"
) -> Pipeline:
    return Pipeline(
        id=pipeline_id,
        iid=pipeline_id,
        project_id=project_id,
        ref=ref,
        tag=False,
        sha=f"{pipeline_id:040x}",
        status=status,
        source="push",
        created_at=EPOCH,
        updated_at=EPOCH,
        commit=None,
    )


def job(
    job_id: int,
    *,
    pipeline_id: int | None = None,
    project_id: int = PRIVATE,
    name: str = "build",
    status: str = "success",
    when: str = "on_success",
    kind: str = "build",
    user_id: int | None = Person.DEVELOPER,
    retried: bool = False,
    erased_at: datetime | None = None,
) -> Job:
    """A job of the project's master pipeline unless another is named."""
    finished = status in ("success", "failed", "canceled")
    return Job(
        id=job_id,
        project_id=project_id,
        pipeline_id=pipeline_id if pipeline_id is not None else master(project_id),
        name=name,
        stage="test",
        status=status,
        kind=kind,
        when=when,
        allow_failure=False,
        user_id=user_id,
        coverage=None,
        tag_list=("docker",),
        failure_reason="script_failure" if status == "failed" else None,
        created_at=EPOCH,
        queued_at=EPOCH,
        started_at=EPOCH if status not in ("created", "pending", "manual") else None,
        finished_at=EPOCH + timedelta(minutes=1) if finished else None,
        erased_at=erased_at,
        retried=retried,
        downstream_pipeline_id=None,
        runner=None,
    )


def artifact_row(
    job_id: int, *, project_id: int = PRIVATE, expire_at: datetime | None = None
) -> Artifact:
    """An archive row with no object behind it: enough for reads that never open it."""
    return Artifact(
        job_id=job_id,
        project_id=project_id,
        file_type="archive",
        file_format="zip",
        filename="artifacts.zip",
        size=22,
        object_key=f"projects/{project_id}/jobs/{job_id}/row-only",
        etag="row-only",
        sha256=None,
        expire_at=expire_at,
        created_at=EPOCH,
    )


def make_zip(members: Mapping[str, bytes], *, stored: Collection[str] = ()) -> bytes:
    """The one zip builder (tests/support/zips.py) over `members` in the order given: names
    ending in `/` are directories, names in `stored` are Stored, the rest Deflated."""
    return zips.make_zip(
        Member(name, data, ZIP_STORED if name in stored else ZIP_DEFLATED)
        for name, data in members.items()
    )


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


collect = streams.read_all


async def read_all(found: Download | MemberFile) -> bytes:
    if isinstance(found, Download):
        return await collect(found.chunks(0, found.size))
    return await collect(found.read())


@dataclass
class World:
    """One built runtime over a seeded store, and helpers that reach it the way callers do."""

    runtime: Runtime
    objects_root: Path

    async def seed(
        self,
        *,
        pipelines: Sequence[Pipeline] = (),
        jobs: Sequence[Job] = (),
        job_tokens: Mapping[int, str] | None = None,
        traces: Sequence[tuple[int, bytes]] = (),
        artifacts: Sequence[Artifact] = (),
    ) -> None:
        """Writes the records through the import port; job tokens are given in clear."""
        batch = ImportBatch(
            pipelines=list(pipelines),
            jobs=list(jobs),
            job_tokens={job_id: hash_token(clear) for job_id, clear in (job_tokens or {}).items()},
            traces=list(traces),
            artifacts=list(artifacts),
        )
        await self.runtime.store.imports.import_batch(batch)

    async def access(self, person: Person | None, project_ref: int | str) -> Access:
        """A user's (None: anonymous) standing in a project, found as a request finds it."""
        credentials = Credentials(user_token=person.token if person is not None else None)
        principal = await self.runtime.auth.authenticate(credentials)
        return await self.runtime.auth.project_access(principal, str(project_ref))

    async def job_token_access(self, job_token: str, project_ref: int | str) -> Access:
        principal = await self.runtime.auth.authenticate(Credentials(job_token=job_token))
        return await self.runtime.auth.project_access(principal, str(project_ref))

    async def job(self, job_id: int) -> Job:
        found = await self.runtime.store.jobs.job_by_id(job_id)
        assert found is not None, f"no job {job_id}"
        return found

    async def artifacts_of(self, job_id: int) -> list[Artifact]:
        return await self.runtime.store.artifacts.artifacts_of(job_id)

    async def upload(
        self,
        job_id: int,
        data: bytes,
        *,
        file_type: str = "archive",
        file_format: str | None = None,
        expire_in: int | None = None,
        expire_at: datetime | None = None,
        type_known: bool = True,
        chunk_size: int = 64 * 1024,
    ) -> Artifact:
        """Uploads `data` for the job as its runner would (the service streams it in)."""
        default_format = FILE_TYPES[file_type][1] if file_type in FILE_TYPES else "zip"
        described = Upload(file_type, file_format or default_format, expire_in, expire_at=expire_at)
        return await self.runtime.uploads.upload(
            await self.job(job_id),
            lambda: described,
            chunks_of(data, chunk_size),
            type_known=type_known,
        )

    def stored_files(self) -> set[str]:
        """Every file under the object root, temporary ones included, relative to it."""
        if not self.objects_root.exists():
            return set()
        return {
            path.relative_to(self.objects_root).as_posix()
            for path in self.objects_root.rglob("*")
            if path.is_file()
        }

    def stored_bytes(self, key: str) -> bytes:
        return (self.objects_root / key).read_bytes()

    def age(self, key: str, by: timedelta) -> None:
        """Makes an object look `by` older to storage (its modification time)."""
        path = self.objects_root / key
        then = path.stat().st_mtime - by.total_seconds()
        os.utime(path, (then, then))


def base_batch() -> ImportBatch:
    return ImportBatch(
        users=[user(person) for person in Person],
        tokens=[(hash_token(person.token), int(person), ("api",)) for person in Person],
        projects=[project(project_id) for project_id in PATHS],
        members=[
            Membership(project_id=PRIVATE, user_id=int(person), access_level=level)
            for person, level in MEMBERS.items()
        ],
        allowlist=[(TRUSTING, PRIVATE)],
        pipelines=[pipeline(master(pid), project_id=pid) for pid in PATHS],
    )


class Worlds:
    """Runs a scenario against a freshly built runtime over this test's database and files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self,
        scenario: Callable[[World], Awaitable[T]],
        *,
        max_artifact_size: int = MAX_SIZE,
        keep_latest: bool = True,
    ) -> T:
        settings = Settings(
            database_url=f"sqlite:///{self.root / 'meta.db'}",
            storage_url=str(self.root / "objects"),
            max_artifact_size=max_artifact_size,
            keep_latest_artifacts=keep_latest,
        )
        return asyncio.run(self._run(settings, scenario))

    async def _run(self, settings: Settings, scenario: Callable[[World], Awaitable[T]]) -> T:
        runtime = build_runtime(settings)
        try:
            await runtime.store.migrate()
            await runtime.store.imports.import_batch(base_batch())
            return await scenario(World(runtime, self.root / "objects"))
        finally:
            runtime.close()


@pytest.fixture
def worlds(tmp_path: Path) -> Worlds:
    return Worlds(tmp_path)
