"""UploadService and ArtifactService built directly: an upload streamed in, checked and
indexed; downloads, keep, delete, the runner's cross-project download and ref lookups."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from artifactsvc.errors import (
    AlreadyUploaded,
    ArtifactFormatMismatch,
    ArtifactNotFound,
    ArtifactsvcError,
    ArtifactTooLarge,
    Forbidden,
    InvalidArchive,
    JobNotFound,
    MissingJobName,
    UnknownArtifactFormat,
    UnknownArtifactType,
)
from artifactsvc.models import utcnow
from tests.services.conftest import (
    CLOSED,
    MASTER,
    PAST,
    PRIVATE,
    PUBLIC,
    TRUSTING,
    Person,
    World,
    Worlds,
    collect,
    job,
    make_zip,
    pipeline,
)

ARCHIVE = make_zip(
    {"README.md": b"# readme\n" * 50, "dist/app.js": bytes(range(256)) * 40},
    stored={"dist/app.js"},
)


def test_an_uploaded_zip_is_stored_and_indexed_beside_its_archive(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        uploaded = await world.upload(10, ARCHIVE, chunk_size=1000)

        (row,) = await world.artifacts_of(10)
        assert (row.object_key, row.etag, row.index_key) == (
            uploaded.object_key,
            uploaded.etag,
            uploaded.index_key,
        )
        assert (row.file_type, row.file_format, row.filename) == ("archive", "zip", "artifacts.zip")
        assert row.size == len(ARCHIVE)
        assert row.sha256 == hashlib.sha256(ARCHIVE).hexdigest()
        assert row.index_directory is not None
        assert row.index_key == f"{row.object_key}.index"
        assert world.stored_files() == {row.object_key, row.index_key}
        assert world.stored_bytes(row.object_key) == ARCHIVE

    worlds.run(scenario)


def test_an_upload_that_is_not_an_archive_is_stored_without_an_index(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        uploaded = await world.upload(10, b"\x1f\x8b not really gzip", file_type="junit")

        assert (uploaded.file_format, uploaded.filename) == ("gzip", "junit.xml.gz")
        assert uploaded.index_key is None and uploaded.index_directory is None
        assert world.stored_files() == {uploaded.object_key}

    worlds.run(scenario)


def test_an_upload_with_an_expiry_expires_that_long_from_now(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])
        before = utcnow()

        uploaded = await world.upload(10, ARCHIVE, expire_in=3600)

        assert uploaded.expire_at is not None
        assert before + timedelta(hours=1) <= uploaded.expire_at <= utcnow() + timedelta(hours=1)

    worlds.run(scenario)


@pytest.mark.parametrize("type_known", [True, False], ids=["type-before-body", "type-after"])
def test_a_second_archive_for_the_same_job_is_already_uploaded(
    worlds: Worlds, type_known: bool
) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])
        first = await world.upload(10, ARCHIVE)

        with pytest.raises(AlreadyUploaded):
            await world.upload(10, make_zip({"other.txt": b"x"}), type_known=type_known)

        assert [a.object_key for a in await world.artifacts_of(10)] == [first.object_key]
        assert world.stored_files() == {first.object_key, first.index_key}

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("file_type", "file_format", "error"),
    [
        pytest.param("bogus", "zip", UnknownArtifactType, id="unknown-type"),
        pytest.param("archive", "tar", UnknownArtifactFormat, id="unknown-format"),
        pytest.param("archive", "gzip", ArtifactFormatMismatch, id="archive-as-gzip"),
        pytest.param("junit", "raw", ArtifactFormatMismatch, id="junit-as-raw"),
    ],
)
@pytest.mark.parametrize("type_known", [True, False], ids=["type-before-body", "type-after"])
def test_an_upload_of_an_unknown_or_mismatched_type_is_refused_and_leaves_nothing(
    worlds: Worlds,
    file_type: str,
    file_format: str,
    error: type[ArtifactsvcError],
    type_known: bool,
) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        with pytest.raises(error):
            await world.upload(
                10, ARCHIVE, file_type=file_type, file_format=file_format, type_known=type_known
            )

        assert await world.artifacts_of(10) == []
        assert world.stored_files() == set()

    worlds.run(scenario)


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(worlds: Worlds) -> None:
    limit = len(ARCHIVE) - 1

    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        with pytest.raises(ArtifactTooLarge):
            await world.upload(10, ARCHIVE, chunk_size=512)

        assert await world.artifacts_of(10) == []
        assert world.stored_files() == set()  # no object, no index, no temporary file

    worlds.run(scenario, max_artifact_size=limit)


def test_an_upload_of_exactly_the_limit_is_accepted(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        assert (await world.upload(10, ARCHIVE, chunk_size=512)).size == len(ARCHIVE)

    worlds.run(scenario, max_artifact_size=len(ARCHIVE))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"this is not a zip at all\n" * 100, id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(ARCHIVE[: len(ARCHIVE) // 2], id="zip-cut-in-half"),
    ],
)
def test_an_archive_that_is_not_a_readable_zip_is_refused_and_leaves_nothing(
    worlds: Worlds, data: bytes
) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        with pytest.raises(InvalidArchive):
            await world.upload(10, data)

        assert await world.artifacts_of(10) == []
        assert world.stored_files() == set()

    worlds.run(scenario)


def test_download_gives_exactly_the_requested_bytes_of_the_archive(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10)])
        uploaded = await world.upload(10, ARCHIVE)
        access = await world.access(Person.REPORTER, PRIVATE)

        download = await world.runtime.artifacts.download(access, 10)

        size = len(ARCHIVE)
        assert (download.key, download.etag, download.size) == (
            uploaded.object_key,
            uploaded.etag,
            size,
        )
        assert download.filename == "artifacts.zip"
        assert await collect(download.chunks(0, size)) == ARCHIVE
        for start, length in [(0, 1), (10, 100), (size - 7, 7), (1, size - 2)]:
            assert await collect(download.chunks(start, length)) == ARCHIVE[start : start + length]

    worlds.run(scenario)


def test_an_anonymous_caller_downloads_from_a_public_project_only(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(30, project_id=PUBLIC)])
        await world.upload(30, ARCHIVE)

        download = await world.runtime.artifacts.download(await world.access(None, PUBLIC), 30)

        assert await collect(download.chunks(0, download.size)) == ARCHIVE

    worlds.run(scenario)


def test_download_of_an_expired_unlocked_archive_is_not_found(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(pipelines=[pipeline(101)], jobs=[job(10)])  # 101 is newer
        await world.upload(10, ARCHIVE, expire_at=PAST)
        access = await world.access(Person.REPORTER, PRIVATE)

        with pytest.raises(ArtifactNotFound):
            await world.runtime.artifacts.download(access, 10)

    worlds.run(scenario)


def test_keep_clears_the_expiry(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10)])
        await world.upload(10, ARCHIVE, expire_in=3600)
        access = await world.access(Person.DEVELOPER, PRIVATE)

        view = await world.runtime.artifacts.keep(access, 10)

        assert [a.expire_at for a in view.job.artifacts] == [None]
        assert [a.expire_at for a in view.live] == [None]
        assert [a.expire_at for a in await world.artifacts_of(10)] == [None]

    worlds.run(scenario)


def test_keep_needs_a_developer_and_a_live_archive(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10), job(11)])
        await world.upload(10, ARCHIVE, expire_in=3600)
        artifacts = world.runtime.artifacts

        with pytest.raises(Forbidden):
            await artifacts.keep(await world.access(Person.REPORTER, PRIVATE), 10)
        with pytest.raises(ArtifactNotFound):
            await artifacts.keep(await world.access(Person.DEVELOPER, PRIVATE), 11)
        assert [a.expire_at is not None for a in await world.artifacts_of(10)] == [True]

    worlds.run(scenario)


def test_delete_removes_the_rows_and_the_objects(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10), job(11)])
        await world.upload(10, ARCHIVE)
        await world.upload(10, b"junit", file_type="junit")
        kept = await world.upload(11, ARCHIVE)
        access = await world.access(Person.MAINTAINER, PRIVATE)

        await world.runtime.artifacts.delete(access, 10)

        assert await world.artifacts_of(10) == []
        assert world.stored_files() == {kept.object_key, kept.index_key}

    worlds.run(scenario)


def test_delete_needs_a_maintainer(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10)])
        uploaded = await world.upload(10, ARCHIVE)

        with pytest.raises(Forbidden):
            await world.runtime.artifacts.delete(await world.access(Person.DEVELOPER, PRIVATE), 10)

        assert [a.object_key for a in await world.artifacts_of(10)] == [uploaded.object_key]
        assert len(world.stored_files()) == 2

    worlds.run(scenario)


async def seed_dependencies(world: World) -> None:
    """A running job 10 in PRIVATE; archives in PRIVATE (11), TRUSTING (40), CLOSED (50)."""
    await world.seed(
        jobs=[
            job(10, status="running"),
            job(11),
            job(40, project_id=TRUSTING),
            job(50, project_id=CLOSED),
        ],
        job_tokens={10: "jt-running"},
    )
    for job_id in (11, 40, 50):
        await world.upload(job_id, ARCHIVE)


@pytest.mark.parametrize(
    "dependency",
    [pytest.param(11, id="same-project"), pytest.param(40, id="project-that-allowlists-it")],
)
def test_a_running_job_downloads_a_dependency_it_may_reach(worlds: Worlds, dependency: int) -> None:
    async def scenario(world: World) -> None:
        await seed_dependencies(world)
        caller = await world.runtime.auth.running_job_of("jt-running")

        download = await world.runtime.artifacts.runner_download(caller, dependency)

        assert await collect(download.chunks(0, download.size)) == ARCHIVE

    worlds.run(scenario)


def test_a_running_job_may_not_download_from_a_project_that_does_not_allowlist_it(
    worlds: Worlds,
) -> None:
    async def scenario(world: World) -> None:
        await seed_dependencies(world)
        caller = await world.runtime.auth.running_job_of("jt-running")

        with pytest.raises(Forbidden):
            await world.runtime.artifacts.runner_download(caller, 50)
        with pytest.raises(JobNotFound):
            await world.runtime.artifacts.runner_download(caller, 999)

    worlds.run(scenario)


# master: 100 (success) < 101 (success, the latest success) < 102 (failed); feature: 103.
REF_PIPELINES = [
    pipeline(101),
    pipeline(102, status="failed"),
    pipeline(103, ref="feature"),
]
REF_JOBS = [
    job(10, pipeline_id=MASTER),
    job(11, pipeline_id=101),
    job(12, pipeline_id=102, status="failed"),
    job(13, pipeline_id=103),
    job(14, pipeline_id=101, name="test"),  # no archive
    job(15, pipeline_id=MASTER, name="test"),
]


async def seed_refs(world: World) -> dict[int, str]:
    """The REF_ jobs, each but 14 with an archive; returns job id -> object key."""
    await world.seed(pipelines=REF_PIPELINES, jobs=REF_JOBS)
    keys: dict[int, str] = {}
    for job_id in (10, 11, 12, 13, 15):
        keys[job_id] = (await world.upload(job_id, ARCHIVE)).object_key
    return keys


def test_ref_lookup_takes_the_job_of_the_refs_latest_successful_pipeline(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        keys = await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)
        artifacts = world.runtime.artifacts

        assert (await artifacts.ref_job(access, "master", "build", recent=False)).id == 11
        archive = await artifacts.ref_archive(access, "master", "build", recent=False)
        assert archive.object_key == keys[11]
        assert (await artifacts.ref_job(access, "feature", "build", recent=False)).id == 13

    worlds.run(scenario)


def test_ref_lookup_without_an_archive_in_the_latest_pipeline_searches_recent_only_if_asked(
    worlds: Worlds,
) -> None:
    async def scenario(world: World) -> None:
        keys = await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)
        artifacts = world.runtime.artifacts

        with pytest.raises(ArtifactNotFound):
            await artifacts.ref_archive(access, "master", "test", recent=False)
        found = await artifacts.ref_archive(access, "master", "test", recent=True)
        assert found.object_key == keys[15]

    worlds.run(scenario)


@pytest.mark.parametrize("name", [None, ""], ids=["no-name", "empty-name"])
def test_ref_lookup_without_a_job_name_is_refused(worlds: Worlds, name: str | None) -> None:
    async def scenario(world: World) -> None:
        await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        with pytest.raises(MissingJobName):
            await world.runtime.artifacts.ref_job(access, "master", name, recent=False)
        with pytest.raises(MissingJobName):
            await world.runtime.artifacts.ref_archive(access, "master", name, recent=True)

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        pytest.param("nope", "build", id="unknown-ref"),
        pytest.param("master", "deploy", id="unknown-name"),
        pytest.param("feature/x", "build", id="ref-with-a-slash"),
    ],
)
def test_ref_lookup_that_matches_no_job_is_not_found(worlds: Worlds, ref: str, name: str) -> None:
    async def scenario(world: World) -> None:
        await seed_refs(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        for recent in (False, True):
            with pytest.raises(ArtifactNotFound):
                await world.runtime.artifacts.ref_archive(access, ref, name, recent=recent)

    worlds.run(scenario)
