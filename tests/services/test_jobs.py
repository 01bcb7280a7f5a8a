"""JobService built directly: reads, the state machine and what a runner reports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from artifactsvc.errors import (
    Forbidden,
    InvalidJobState,
    JobNotErasable,
    JobNotFound,
    JobNotRetryable,
    TraceOffsetMismatch,
    UnplayableJob,
)
from artifactsvc.models import REPORTER, Job, JobQuery, utcnow
from tests.services.conftest import (
    EPOCH,
    INTERNAL,
    MASTER,
    PAST,
    PRIVATE,
    Person,
    World,
    Worlds,
    artifact_row,
    job,
    make_zip,
    pipeline,
)
from tests.support.logs import whole_log

LATEST = 101  # a newer successful master pipeline than MASTER


async def seed_expiry_world(world: World) -> None:
    """Job 10 (MASTER) and 11 (LATEST) hold expired archives, job 12 (LATEST) a live one."""
    future = utcnow() + timedelta(days=1)
    await world.seed(
        pipelines=[pipeline(LATEST)],
        jobs=[job(10), job(11, pipeline_id=LATEST), job(12, pipeline_id=LATEST)],
        artifacts=[
            artifact_row(10, expire_at=PAST),
            artifact_row(11, expire_at=PAST),
            artifact_row(12, expire_at=future),
        ],
    )


def test_show_hides_expired_artifacts_unless_the_latest_pipeline_keeps_them(
    worlds: Worlds,
) -> None:
    async def scenario(world: World) -> None:
        await seed_expiry_world(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        old = await world.runtime.jobs.show(access, 10)
        locked = await world.runtime.jobs.show(access, 11)
        fresh = await world.runtime.jobs.show(access, 12)

        assert len(old.job.artifacts) == 1 and old.live == ()
        assert [a.job_id for a in locked.live] == [11]
        assert [a.job_id for a in fresh.live] == [12]

    worlds.run(scenario)


def test_without_keep_latest_an_expired_artifact_is_hidden_in_the_latest_pipeline_too(
    worlds: Worlds,
) -> None:
    async def scenario(world: World) -> None:
        await seed_expiry_world(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        assert (await world.runtime.jobs.show(access, 11)).live == ()

    worlds.run(scenario, keep_latest=False)


def test_list_jobs_gives_newest_first_with_live_artifacts_and_the_count(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_expiry_world(world)
        access = await world.access(Person.REPORTER, PRIVATE)

        page = await world.runtime.jobs.list_jobs(
            access, JobQuery(project_id=PRIVATE), 0, 2, count=True
        )

        assert [view.job.id for view in page.jobs] == [12, 11]
        assert [[a.job_id for a in view.live] for view in page.jobs] == [[12], [11]]
        assert page.total == 3
        rest = await world.runtime.jobs.list_jobs(
            access, JobQuery(project_id=PRIVATE), 2, 2, count=True
        )
        assert [(view.job.id, view.live) for view in rest.jobs] == [(10, ())]

    worlds.run(scenario)


def test_a_job_of_another_project_is_not_found(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10)])
        access = await world.access(Person.ADMIN, INTERNAL)

        with pytest.raises(JobNotFound):
            await world.runtime.jobs.show(access, 10)

    worlds.run(scenario)


def test_cancel_stops_a_running_job(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])
        access = await world.access(Person.DEVELOPER, PRIVATE)

        view = await world.runtime.jobs.cancel(access, 10)

        assert view.job.status == "canceled"
        assert view.job.finished_at is not None
        assert (await world.job(10)).status == "canceled"

    worlds.run(scenario)


@pytest.mark.parametrize("status", ["success", "failed", "canceled", "manual", "skipped"])
def test_cancel_leaves_a_job_that_cannot_be_canceled_unchanged(worlds: Worlds, status: str) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status=status)])
        before = await world.job(10)
        access = await world.access(Person.DEVELOPER, PRIVATE)

        view = await world.runtime.jobs.cancel(access, 10)

        assert view.job == before
        assert await world.job(10) == before

    worlds.run(scenario)


def test_retry_creates_one_new_pending_job_and_marks_the_old_retried(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="failed", user_id=Person.OTHER_DEVELOPER)])
        access = await world.access(Person.DEVELOPER, PRIVATE)

        view = await world.runtime.jobs.retry(access, 10)

        assert view.job.id == 11
        assert view.job.status == "pending"
        assert (view.job.name, view.job.stage, view.job.pipeline_id) == ("build", "test", MASTER)
        assert view.job.user_id == Person.DEVELOPER  # the one who retried it
        assert view.job.retried is False
        assert (await world.job(10)).retried is True
        page = await world.runtime.jobs.list_jobs(
            access, JobQuery(project_id=PRIVATE), 0, 20, count=True
        )
        assert [(v.job.id, v.job.status) for v in page.jobs] == [(11, "pending"), (10, "failed")]

    worlds.run(scenario)


def test_retry_refuses_a_running_job(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])
        access = await world.access(Person.DEVELOPER, PRIVATE)

        with pytest.raises(JobNotRetryable):
            await world.runtime.jobs.retry(access, 10)
        assert (
            await world.runtime.jobs.list_jobs(
                access, JobQuery(project_id=PRIVATE), 0, 0, count=True
            )
        ).total == 1

    worlds.run(scenario)


def test_retry_refuses_a_job_already_retried(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="failed")])
        access = await world.access(Person.DEVELOPER, PRIVATE)
        await world.runtime.jobs.retry(access, 10)

        with pytest.raises(JobNotRetryable):
            await world.runtime.jobs.retry(access, 10)
        assert (
            await world.runtime.jobs.list_jobs(
                access, JobQuery(project_id=PRIVATE), 0, 0, count=True
            )
        ).total == 2

    worlds.run(scenario)


def test_play_queues_a_manual_job_for_the_player(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="manual", when="manual", user_id=None)])
        access = await world.access(Person.DEVELOPER, PRIVATE)

        view = await world.runtime.jobs.play(access, 10)

        assert view.job.id == 10
        assert view.job.status == "pending"
        assert view.job.queued_at is not None and view.job.queued_at > EPOCH
        assert view.job.user_id == Person.DEVELOPER

    worlds.run(scenario)


def test_playing_a_finished_manual_job_retries_it(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="success", when="manual")])
        access = await world.access(Person.DEVELOPER, PRIVATE)

        view = await world.runtime.jobs.play(access, 10)

        assert (view.job.id, view.job.status, view.job.when) == (11, "pending", "manual")
        assert (await world.job(10)).retried is True

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("status", "when"),
    [
        pytest.param("success", "on_success", id="not-manual"),
        pytest.param("running", "manual", id="manual-but-running"),
        pytest.param("pending", "manual", id="manual-already-queued"),
    ],
)
def test_play_refuses_a_job_that_is_not_playable(worlds: Worlds, status: str, when: str) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status=status, when=when)])
        access = await world.access(Person.DEVELOPER, PRIVATE)

        with pytest.raises(UnplayableJob):
            await world.runtime.jobs.play(access, 10)
        assert (await world.job(10)).status == status

    worlds.run(scenario)


def test_erase_removes_artifacts_and_trace_and_sets_erased_at(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10)], traces=[(10, b"log text\n")])
        await world.upload(10, make_zip({"a.txt": b"a"}))
        assert len(world.stored_files()) == 2  # archive and index
        access = await world.access(Person.DEVELOPER, PRIVATE)  # the job's own user

        view = await world.runtime.jobs.erase(access, 10)

        assert view.job.erased_at is not None
        assert view.job.artifacts == () and view.live == ()
        assert await world.artifacts_of(10) == []
        assert world.stored_files() == set()
        assert await whole_log(world.runtime.store.traces, 10) is None
        log = await world.runtime.jobs.trace(access, 10)
        assert log.size == 0 and [chunk async for chunk in log.chunks] == []

    worlds.run(scenario)


@pytest.mark.parametrize(
    "person",
    [
        pytest.param(Person.REPORTER, id="reporter"),
        pytest.param(Person.OTHER_DEVELOPER, id="developer-of-someone-elses-job"),
    ],
)
def test_erase_without_permission_is_an_invalid_job_state(worlds: Worlds, person: Person) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10)], traces=[(10, b"log")])
        access = await world.access(person, PRIVATE)

        with pytest.raises(InvalidJobState) as refused:
            await world.runtime.jobs.erase(access, 10)

        assert type(refused.value) is InvalidJobState
        assert await whole_log(world.runtime.store.traces, 10) == b"log"
        assert (await world.job(10)).erased_at is None

    worlds.run(scenario)


def test_a_maintainer_erases_anyones_job(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, user_id=Person.OTHER_DEVELOPER)], traces=[(10, b"log")])
        access = await world.access(Person.MAINTAINER, PRIVATE)

        assert (await world.runtime.jobs.erase(access, 10)).job.erased_at is not None

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("seeded", "traced"),
    [
        pytest.param(job(10), False, id="nothing-to-erase"),
        pytest.param(job(10, status="running"), True, id="still-running"),
        pytest.param(job(10, erased_at=EPOCH), True, id="already-erased"),
    ],
)
def test_erase_refuses_a_job_that_is_not_erasable(
    worlds: Worlds, seeded: Job, traced: bool
) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[seeded], traces=[(10, b"log")] if traced else [])
        access = await world.access(Person.MAINTAINER, PRIVATE)

        with pytest.raises(JobNotErasable):
            await world.runtime.jobs.erase(access, 10)

    worlds.run(scenario)


def test_finish_records_success(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        await world.runtime.jobs.finish(await world.job(10), "success", None)

        finished = await world.job(10)
        assert finished.status == "success"
        assert finished.finished_at is not None and finished.finished_at > EPOCH
        assert finished.failure_reason is None

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("reason", "recorded"),
    [
        pytest.param(None, "unknown_failure", id="no-reason"),
        pytest.param("", "unknown_failure", id="empty-reason"),
        pytest.param("script_failure", "script_failure", id="given-reason"),
    ],
)
def test_finish_as_failed_records_the_failure_reason(
    worlds: Worlds, reason: str | None, recorded: str
) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])

        await world.runtime.jobs.finish(await world.job(10), "failed", reason)

        failed = await world.job(10)
        assert (failed.status, failed.failure_reason) == ("failed", recorded)

    worlds.run(scenario)


def test_append_trace_appends_only_at_the_current_size(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await world.seed(jobs=[job(10, status="running")])
        running = await world.job(10)
        jobs = world.runtime.jobs

        assert await jobs.append_trace(running, 0, b"abc") == 3
        with pytest.raises(TraceOffsetMismatch) as behind:
            await jobs.append_trace(running, 0, b"xyz")
        assert behind.value.size == 3
        with pytest.raises(TraceOffsetMismatch) as ahead:
            await jobs.append_trace(running, 4, b"xyz")
        assert ahead.value.size == 3
        assert await jobs.append_trace(running, 3, b"def") == 6
        assert await whole_log(world.runtime.store.traces, 10) == b"abcdef"

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("person", "project_id"),
    [
        pytest.param(Person.REPORTER, PRIVATE, id="reporter"),
        pytest.param(Person.OUTSIDER, INTERNAL, id="non-member-of-an-internal-project"),
    ],
)
def test_retry_needs_a_developer(worlds: Worlds, person: Person, project_id: int) -> None:
    async def scenario(world: World) -> None:
        failed = job(10, status="failed", project_id=project_id)
        await world.seed(jobs=[failed])
        access = await world.access(person, project_id)

        with pytest.raises(Forbidden) as refused:
            await world.runtime.jobs.retry(access, 10)

        assert type(refused.value) is Forbidden
        assert (await world.job(10)).retried is False

    worlds.run(scenario)


def test_a_job_token_is_never_more_than_its_user(worlds: Worlds) -> None:
    """A reporter's job token may not retry (routes that change jobs ignore job tokens
    altogether: tests/conformance/test_tokens.py)."""

    async def scenario(world: World) -> None:
        await world.seed(
            jobs=[job(10, status="failed"), job(11, status="running", user_id=Person.REPORTER)],
            job_tokens={11: "jt-running"},
        )
        access = await world.job_token_access("jt-running", PRIVATE)
        assert access.via_job_token and access.level == REPORTER

        with pytest.raises(Forbidden) as refused:
            await world.runtime.jobs.retry(access, 10)

        assert type(refused.value) is Forbidden
        assert (await world.job(10)).retried is False

    worlds.run(scenario)
