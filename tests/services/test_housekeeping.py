"""Housekeeping built directly: the expiry sweep and the orphan collector, on real files."""

from __future__ import annotations

from datetime import timedelta

import pytest

from artifactsvc.models import utcnow
from tests.services.conftest import PAST, World, Worlds, chunks_of, job, make_zip, pipeline

ARCHIVE = make_zip({"a.txt": b"a" * 1000, "b/c.txt": b"c"})
LATEST = 101  # a newer successful master pipeline than MASTER (100)


async def seed_expiry(world: World) -> dict[int, set[str]]:
    """Jobs 10 (MASTER, expired), 11 (LATEST, expired), 12 (MASTER, expires tomorrow), each
    with an uploaded archive; returns job id -> its objects' keys."""
    await world.seed(
        pipelines=[pipeline(LATEST)],
        jobs=[job(10), job(11, pipeline_id=LATEST), job(12)],
    )
    tomorrow = utcnow() + timedelta(days=1)
    keys: dict[int, set[str]] = {}
    for job_id, expire_at in ((10, PAST), (11, PAST), (12, tomorrow)):
        uploaded = await world.upload(job_id, ARCHIVE, expire_at=expire_at)
        assert uploaded.index_key is not None
        keys[job_id] = {uploaded.object_key, uploaded.index_key}
    return keys


def test_expire_deletes_expired_artifacts_but_keeps_the_latest_pipelines(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        keys = await seed_expiry(world)

        report = await world.runtime.housekeeping.expire()

        assert (report.deleted, report.bytes, report.failed) == (1, len(ARCHIVE), 0)
        assert await world.artifacts_of(10) == []
        assert [len(await world.artifacts_of(job_id)) for job_id in (11, 12)] == [1, 1]
        assert world.stored_files() == keys[11] | keys[12]

    worlds.run(scenario)


def test_expire_without_keep_latest_deletes_the_latest_pipelines_too(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        keys = await seed_expiry(world)

        report = await world.runtime.housekeeping.expire()

        assert (report.deleted, report.failed) == (2, 0)
        assert [len(await world.artifacts_of(job_id)) for job_id in (10, 11, 12)] == [0, 0, 1]
        assert world.stored_files() == keys[12]

    worlds.run(scenario, keep_latest=False)


def test_expire_twice_deletes_nothing_more(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_expiry(world)
        await world.runtime.housekeeping.expire()

        report = await world.runtime.housekeeping.expire()

        assert (report.deleted, report.bytes, report.failed) == (0, 0, 0)

    worlds.run(scenario)


def test_expire_works_through_several_batches(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(pipelines=[pipeline(LATEST)], jobs=[job(i) for i in range(10, 17)])
        for job_id in range(10, 17):
            await world.upload(job_id, ARCHIVE, expire_at=PAST)

        report = await world.runtime.housekeeping.expire(batch=2)

        assert report.deleted == 7
        assert world.stored_files() == set()

    worlds.run(scenario)


@pytest.mark.parametrize("grace_hours", [1, 24])
def test_gc_removes_orphans_older_than_the_grace_period_and_keeps_fresh_ones(
    worlds: Worlds, grace_hours: int
) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10)])
        uploaded = await world.upload(10, ARCHIVE)
        assert uploaded.index_key is not None
        objects = world.runtime.objects
        old, fresh = "projects/1/jobs/10/old-orphan", "projects/1/jobs/99/fresh-orphan"
        for key in (old, fresh):
            await objects.put_stream(key, chunks_of(b"left over by a crash"))
        grace = timedelta(hours=grace_hours)
        world.age(old, grace + timedelta(minutes=5))
        world.age(fresh, grace - timedelta(minutes=5))
        for key in (uploaded.object_key, uploaded.index_key):
            world.age(key, grace * 10)  # old, but named by a row

        orphans, aborted = await world.runtime.housekeeping.gc(grace=grace)

        assert (orphans, aborted) == (1, 0)
        assert world.stored_files() == {uploaded.object_key, uploaded.index_key, fresh}

    worlds.run(scenario)
