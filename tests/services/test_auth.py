"""AuthService built directly: credentials to a principal, a principal to project access,
job tokens to their running job and the projects they reach."""

from __future__ import annotations

import pytest

from artifactsvc.access import ANONYMOUS
from artifactsvc.auth import Credentials
from artifactsvc.errors import (
    Forbidden,
    InvalidToken,
    JobTokenOutOfScope,
    ProjectNotFound,
    Unauthenticated,
)
from artifactsvc.models import ADMIN, DEVELOPER, REPORTER
from tests.services.conftest import (
    CLOSED,
    INTERNAL,
    PRIVATE,
    PUBLIC,
    TRUSTING,
    Person,
    World,
    Worlds,
    job,
)

RUNNING, FINISHED, TRUSTING_RUNNING = 10, 11, 40
TOKENS = {RUNNING: "jt-running", FINISHED: "jt-finished", TRUSTING_RUNNING: "jt-trusting"}


async def seed_jobs(world: World) -> None:
    """A running and a finished job in PRIVATE, a running job in TRUSTING, each with a token."""
    await world.seed(
        jobs=[
            job(RUNNING, status="running"),
            job(FINISHED, status="success"),
            job(
                TRUSTING_RUNNING,
                status="running",
                project_id=TRUSTING,
            ),
        ],
        job_tokens=TOKENS,
    )


def test_a_user_token_authenticates_as_its_user(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        principal = await world.runtime.auth.authenticate(
            Credentials(user_token=Person.DEVELOPER.token)
        )

        assert principal.user is not None and principal.user.id == Person.DEVELOPER
        assert principal.job is None

    worlds.run(scenario)


def test_a_running_jobs_token_authenticates_as_that_job_for_its_user(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        principal = await world.runtime.auth.authenticate(Credentials(job_token="jt-running"))

        assert principal.job is not None and principal.job.id == RUNNING
        assert principal.user is not None and principal.user.id == Person.DEVELOPER

    worlds.run(scenario)


def test_a_job_token_is_ignored_where_the_route_accepts_none(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        principal = await world.runtime.auth.authenticate(
            Credentials(job_token="jt-running"), job_token_allowed=False
        )

        assert principal == ANONYMOUS

    worlds.run(scenario)


def test_no_credentials_is_the_anonymous_principal(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        assert await world.runtime.auth.authenticate(Credentials()) == ANONYMOUS

    worlds.run(scenario)


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param(Credentials(user_token="tok-nobody"), id="unknown-user-token"),
        pytest.param(Credentials(user_token=Person.BLOCKED.token), id="blocked-user"),
        pytest.param(Credentials(job_token="jt-nobody"), id="unknown-job-token"),
        pytest.param(Credentials(job_token="jt-finished"), id="finished-jobs-token"),
        pytest.param(Credentials(job_token=Person.DEVELOPER.token), id="user-token-as-job-token"),
    ],
)
def test_credentials_that_name_no_active_user_or_running_job_are_invalid(
    worlds: Worlds, credentials: Credentials
) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        with pytest.raises(InvalidToken):
            await world.runtime.auth.authenticate(credentials)

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("person", "project_ref", "project_id", "level"),
    [
        pytest.param(Person.DEVELOPER, str(PRIVATE), PRIVATE, DEVELOPER, id="member-by-id"),
        pytest.param(Person.REPORTER, "group/private", PRIVATE, REPORTER, id="member-by-path"),
        pytest.param(Person.DEVELOPER, "GROUP/Private", PRIVATE, DEVELOPER, id="path-any-case"),
        pytest.param(Person.ADMIN, "group/private", PRIVATE, ADMIN, id="admin-non-member"),
        pytest.param(Person.OUTSIDER, "group/internal", INTERNAL, 0, id="user-on-internal"),
        pytest.param(Person.OUTSIDER, "group/public", PUBLIC, 0, id="user-on-public"),
        pytest.param(None, "group/public", PUBLIC, 0, id="anonymous-on-public"),
        pytest.param(None, str(PUBLIC), PUBLIC, 0, id="anonymous-on-public-by-id"),
    ],
)
def test_project_access_finds_a_visible_project_with_the_callers_level(
    worlds: Worlds, person: Person | None, project_ref: str, project_id: int, level: int
) -> None:
    async def scenario(world: World) -> None:
        access = await world.access(person, project_ref)

        assert access.project.id == project_id
        assert access.level == level
        assert not access.via_job_token

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("person", "project_ref"),
    [
        pytest.param(Person.OUTSIDER, "group/private", id="non-member-on-private"),
        pytest.param(Person.OUTSIDER, str(PRIVATE), id="non-member-on-private-by-id"),
        pytest.param(None, "group/private", id="anonymous-on-private"),
        pytest.param(None, "group/internal", id="anonymous-on-internal"),
        pytest.param(Person.ADMIN, "group/missing", id="no-such-path"),
        pytest.param(Person.ADMIN, "99", id="no-such-id"),
        pytest.param(Person.ADMIN, str(2**63), id="id-past-bigint"),
        pytest.param(Person.ADMIN, "group/private\x00", id="nul-in-path"),
        pytest.param(Person.ADMIN, "group/\udcff", id="invalid-utf8-in-path"),
    ],
)
def test_project_access_hides_a_project_the_caller_may_not_see(
    worlds: Worlds, person: Person | None, project_ref: str
) -> None:
    async def scenario(world: World) -> None:
        with pytest.raises(ProjectNotFound):
            await world.access(person, project_ref)

    worlds.run(scenario)


def test_a_job_token_has_its_users_role_in_its_own_project(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        access = await world.job_token_access("jt-running", "group/private")

        assert (access.project.id, access.level, access.via_job_token) == (
            PRIVATE,
            DEVELOPER,
            True,
        )

    worlds.run(scenario)


def test_a_job_token_is_never_more_than_its_user_in_an_allowlisting_project(
    worlds: Worlds,
) -> None:
    """TRUSTING names PRIVATE on its allowlist, but the job's user is no member of it."""

    async def scenario(world: World) -> None:
        await seed_jobs(world)

        with pytest.raises(JobTokenOutOfScope) as refused:
            await world.job_token_access("jt-running", "partner/trusting")

        assert (refused.value.source_path, refused.value.target_path) == ("private", "trusting")

    worlds.run(scenario)


def test_a_job_token_outside_its_allowlist_sees_a_public_project_without_a_role(
    worlds: Worlds,
) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        access = await world.job_token_access("jt-running", "group/public")

        assert (access.project.id, access.level) == (PUBLIC, 0)
        assert access.can_read_jobs()  # "public pipelines"

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("caller", "project_id", "reaches"),
    [
        pytest.param(RUNNING, PRIVATE, True, id="own-project"),
        pytest.param(RUNNING, TRUSTING, True, id="allowlisted"),
        pytest.param(RUNNING, CLOSED, False, id="other-private-project"),
        pytest.param(RUNNING, PUBLIC, False, id="other-public-project"),
        pytest.param(TRUSTING_RUNNING, PRIVATE, False, id="allowlist-works-one-way"),
    ],
)
def test_job_token_reaches_only_its_project_and_allowlisting_ones(
    worlds: Worlds, caller: int, project_id: int, reaches: bool
) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        found = await world.runtime.auth.job_token_reaches(await world.job(caller), project_id)

        assert found is reaches

    worlds.run(scenario)


def test_runner_job_is_the_running_job_its_token_belongs_to(worlds: Worlds) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        assert (await world.runtime.auth.runner_job(RUNNING, "jt-running")).id == RUNNING

    worlds.run(scenario)


@pytest.mark.parametrize(
    ("job_id", "presented"),
    [
        pytest.param(RUNNING, "jt-trusting", id="another-jobs-token"),
        pytest.param(FINISHED, "jt-finished", id="finished-job"),
        pytest.param(RUNNING, "jt-nobody", id="unknown-token"),
        pytest.param(RUNNING, None, id="no-token"),
        pytest.param(RUNNING, "", id="empty-token"),
        pytest.param(RUNNING, Person.ADMIN.token, id="a-user-token"),
    ],
)
def test_runner_job_refuses_any_other_token(
    worlds: Worlds, job_id: int, presented: str | None
) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        with pytest.raises(Forbidden):
            await world.runtime.auth.runner_job(job_id, presented)

    worlds.run(scenario)


@pytest.mark.parametrize("presented", [None, ""], ids=["none", "empty"])
def test_running_job_of_without_a_token_is_unauthenticated(
    worlds: Worlds, presented: str | None
) -> None:
    async def scenario(world: World) -> None:
        with pytest.raises(Unauthenticated):
            await world.runtime.auth.running_job_of(presented)

    worlds.run(scenario)


@pytest.mark.parametrize("presented", ["jt-nobody", "jt-finished"], ids=["unknown", "finished"])
def test_running_job_of_a_token_without_a_running_job_is_invalid(
    worlds: Worlds, presented: str
) -> None:
    async def scenario(world: World) -> None:
        await seed_jobs(world)

        with pytest.raises(InvalidToken):
            await world.runtime.auth.running_job_of(presented)
        assert (await world.runtime.auth.running_job_of("jt-running")).id == RUNNING

    worlds.run(scenario)
