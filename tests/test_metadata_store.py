"""The metadata store itself (MetadataStore over SQLite and PostgreSQL), below the HTTP layer."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from artifactsvc.auth import hash_token
from artifactsvc.errors import Conflict, TraceOffsetMismatch
from artifactsvc.jobs import RETRYABLE
from artifactsvc.metadata import ImportBatch, JobQuery, NewJob, open_metadata_store
from artifactsvc.metadata.database import AsyncDatabase, Row
from artifactsvc.metadata.postgres import PostgresDatabase
from artifactsvc.metadata.sql_artifacts import SqlArtifacts
from artifactsvc.metadata.sql_jobs import SqlJobs
from artifactsvc.metadata.sql_traces import TRACE_CHUNK
from artifactsvc.models import Artifact, Job, PipelineQuery, Project, User, utcnow
from tests.support.database import postgres_schema, query
from tests.support.documents import job, pipeline, project, user
from tests.support.logs import whole_log


def new_job(name: str) -> NewJob:
    return NewJob(
        project_id=1, pipeline_id=1, kind="build", downstream_pipeline_id=None, name=name,
        stage="test", status="pending",
        when="on_success", allow_failure=False, user_id=None, tag_list=("a",),
        token_hash=None, created_at=utcnow(),
    )  # fmt: skip


@pytest.fixture
def seeded(database_url: str, seed: Callable[[str, dict[str, Any]], None]) -> str:
    seed(
        database_url,
        {
            "users": [user(1, "root", tokens=("glpat-root",))],
            "projects": [project(1, "a/b")],
            "pipelines": [pipeline(1, 1)],
            "jobs": [job(n, 1, "failed", token=f"job-{n}") for n in range(1, 21)],
        },
    )
    return database_url


def test_concurrent_retries_get_distinct_new_ids(seeded: str) -> None:
    async def go() -> tuple[list[int], list[int]]:
        store = open_metadata_store(seeded)
        try:
            new_ids = await asyncio.gather(
                *(
                    store.jobs.retry_job(n, new_job(f"retry-{n}"), statuses=RETRYABLE)
                    for n in range(1, 21)
                )
            )
            query = JobQuery(project_id=1, include_retried=False)
            current = [j.id for j in await store.jobs.jobs(query, 0, 100)]
            return [n for n in new_ids if n is not None], current
        finally:
            store.close()

    new_ids, current = asyncio.run(go())

    assert sorted(new_ids) == list(range(21, 41))
    assert sorted(current) == list(range(21, 41))  # every old job is marked retried


def test_an_import_batch_is_all_or_nothing(seeded: str) -> None:
    batch = ImportBatch(
        users=[User(id=9, username="late", name="Late", email="", admin=False, state="active",
                    created_at=None)],
        projects=[Project(id=9, path_with_namespace="late/project", name="project",
                          visibility="public", description=None, default_branch="main",
                          created_at=None)],
        # the last row reuses a stored job's token: the whole batch must roll back
        jobs=[Job(id=99, project_id=1, pipeline_id=1, name="clash", stage="test",
                  status="success", kind="build", when="on_success", allow_failure=False,
                  user_id=None, coverage=None, tag_list=(), failure_reason=None,
                  created_at=None, queued_at=None, started_at=None, finished_at=None,
                  erased_at=None, retried=False, downstream_pipeline_id=None, runner=None)],
        job_tokens={99: hash_token("job-1")},
    )  # fmt: skip

    async def go() -> tuple[Any, Any, Any]:
        store = open_metadata_store(seeded)
        try:
            with pytest.raises(Conflict) as raised:
                await store.imports.import_batch(batch)
            late = await store.identities.user_by_username("late")
            return raised.value, late, await store.projects.project(9)
        finally:
            store.close()

    error, late_user, late_project = asyncio.run(go())

    assert "\n" not in str(error)
    assert (late_user, late_project) == (None, None)


def test_tokens_resolve_by_digest_only(seeded: str) -> None:
    async def go() -> tuple[Any, ...]:
        store = open_metadata_store(seeded)
        try:
            return (
                await store.identities.personal_token(hash_token("glpat-root")),
                await store.identities.personal_token("glpat-root"),
                await store.identities.job_by_token_hash(hash_token("job-7")),
                await store.identities.job_by_token_hash(hash_token("job-999")),
            )
        finally:
            store.close()

    by_digest, by_clear_text, job_seven, unknown = asyncio.run(go())

    assert by_digest is not None and by_digest.user.username == "root"
    assert by_clear_text is None
    assert job_seven is not None and job_seven.id == 7
    assert unknown is None


def test_migrate_is_idempotent_and_safe_to_race(seeded: str) -> None:
    async def go() -> int:
        stores = [open_metadata_store(seeded) for _ in range(3)]
        try:
            await asyncio.gather(*(store.migrate() for store in stores))
            await stores[0].migrate()
            return await stores[0].jobs.count_jobs(JobQuery(project_id=1))
        finally:
            for store in stores:
                store.close()

    assert asyncio.run(go()) == 20  # nothing lost either


def stored_artifact(job_id: int, file_type: str, index_directory: bytes | None = None) -> Artifact:
    return Artifact(
        job_id=job_id, project_id=1, file_type=file_type, file_format="zip",
        filename=f"{file_type}.zip", size=job_id * 10, object_key=f"k/{job_id}/{file_type}",
        etag=f'"{job_id}{file_type}"', sha256=None, expire_at=None, created_at=utcnow(),
        index_directory=index_directory, index_key=None,
    )  # fmt: skip


def test_a_page_of_jobs_counts_jobs_not_their_artifacts(seeded: str) -> None:
    """A job and its artifacts come in one statement, a row per artifact: the page must still
    be `limit` jobs, each with its own artifacts in type order, and a job without any, none.
    The other joined reads too: by id, by job token, and the ref download's job."""
    kinds = {20: ("trace", "archive", "metadata"), 19: ("archive",), 17: ("junit", "archive")}
    found: dict[str, Job | None] = {}

    async def go() -> tuple[list[Job], list[Job], Job | None, Job | None]:
        store = open_metadata_store(seeded)
        try:
            for job_id, file_types in kinds.items():
                for file_type in file_types:
                    directory = b"\x00dir" if file_type == "archive" else None
                    await store.artifacts.insert_artifact(
                        stored_artifact(job_id, file_type, directory)
                    )
            query = JobQuery(project_id=1, include_retried=False)
            first = await store.jobs.jobs(query, 0, 3)
            second = await store.jobs.jobs(query, 3, 3)
            found["token"] = await store.identities.job_by_token_hash(hash_token("job-20"))
            found["ref"] = await store.artifacts.ref_job(
                1, "master", "job-20", recent=None, now=utcnow()
            )
            return first, second, await store.jobs.job(1, 20), await store.jobs.job(1, 18)
        finally:
            store.close()

    first, second, one, bare = asyncio.run(go())

    assert [j.id for j in first] == [20, 19, 18]
    assert [j.id for j in second] == [17, 16, 15]
    types = {j.id: [a.file_type for a in j.artifacts] for j in first + second}
    assert types == {
        20: ["archive", "metadata", "trace"], 19: ["archive"], 18: [],
        17: ["archive", "junit"], 16: [], 15: [],
    }  # fmt: skip
    assert all(a.job_id == j.id for j in first + second for a in j.artifacts)
    assert one is not None and [a.file_type for a in one.artifacts] == [
        "archive", "metadata", "trace"
    ]  # fmt: skip
    archive = one.artifacts[0]
    assert (archive.size, archive.object_key, archive.index_directory) == (
        200,
        "k/20/archive",
        b"\x00dir",
    )
    assert bare is not None and bare.artifacts == ()
    for how, shown in found.items():
        assert shown is not None and shown.id == 20, how
        assert shown.artifacts == one.artifacts, how


def test_pages_are_planned_once_on_postgresql(
    seed: Callable[[str, dict[str, Any]], None],
) -> None:
    """psycopg prepares a statement run five times on a connection, and PostgreSQL then
    plans it once if it can (a generic plan). A LIMIT given as a parameter never allowed
    that: every page was planned anew (~1 ms of the database's CPU, more than running it).
    Each statement with a LIMIT, run a dozen times on one connection, must have been run
    on a generic plan since (pg_prepared_statements counts both kinds)."""
    with postgres_schema() as url:
        seed(
            url,
            {
                "users": [user(1, "root", tokens=("glpat-root",))],
                "projects": [project(1, "a/b")],
                "pipelines": [pipeline(1, 1)],
                # Enough rows that a tenth of them is no longer a cheap page.
                "jobs": [job(n, 1, "success") for n in range(1, 3001)],
            },
        )

        async def go() -> list[Row]:
            database = AsyncDatabase(PostgresDatabase(url, max_size=1), threads=1)
            jobs, artifacts = SqlJobs(database), SqlArtifacts(database)
            current = JobQuery(project_id=1, include_retried=False)
            try:
                for _ in range(12):
                    assert len(await jobs.jobs(current, 0, 20)) == 20
                    assert len(await jobs.jobs(current, 20, 20)) == 20
                    keyset = dataclasses.replace(current, before_id=10)
                    assert [j.id for j in await jobs.jobs(keyset, 0, 5)] == [9, 8, 7, 6, 5]
                    assert len(await jobs.pipelines(PipelineQuery(project_id=1), 0, 20)) == 1
                    for recent in (None, 100):
                        await artifacts.ref_job(1, "master", "a", recent=recent, now=utcnow())
                return await database.query(
                    "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement LIKE ?",
                    ("%LIMIT%",),
                    lambda rows: rows,
                )
            finally:
                database.close()

        prepared = asyncio.run(go())

    custom_only = [row["statement"][-120:] for row in prepared if row["generic_plans"] == 0]
    assert custom_only == []
    assert len(prepared) == 6  # two job pages, the keyset page, pipelines, ref_job twice


def test_a_log_is_stored_in_pieces_an_append_rewrites_only_the_last(seeded: str) -> None:
    """300 appends of 1,000 bytes, then one of 300,000: the log reads back whole, and is
    held in pieces of TRACE_CHUNK (GitLab's 128 KiB) with only the last one short, so an
    append reads and writes one piece, not the log. Deleting it removes every piece."""
    pieces = [bytes([65 + n % 26]) * 1000 for n in range(300)] + [b"z" * 300_000]
    tails: list[tuple[bytes, int] | None] = []

    async def go() -> tuple[list[int], bytes | None, list[Row], list[Row], bytes | None]:
        store = open_metadata_store(seeded)
        try:
            sizes: list[int] = []
            for piece in pieces:
                start = sizes[-1] if sizes else 0
                sizes.append(await store.traces.append_trace(3, start, piece))
            whole = await whole_log(store.traces, 3)
            tails.append(await store.traces.trace_tail(3, 200_001))
            tails.append(await store.traces.trace_tail(3, 10**9))
            tails.append(await store.traces.trace_tail(4, 10))  # no log at all
            stored = _pieces(seeded, 3)
            await store.traces.delete_trace(3)
            return sizes, whole, stored, _pieces(seeded, 3), await whole_log(store.traces, 3)
        finally:
            store.close()

    sizes, whole, stored, left, deleted = asyncio.run(go())

    assert sizes[:2] == [1000, 2000] and sizes[-1] == 600_000
    assert whole == b"".join(pieces)
    assert [row["n"] for row in stored] == [TRACE_CHUNK] * 4 + [600_000 - 4 * TRACE_CHUNK]
    assert (left, deleted) == ([], None)
    # The web page's tail: the last bytes (across pieces) and the whole size, or None.
    assert tails == [(whole[-200_001:], 600_000), (whole, 600_000), None]


def _pieces(url: str, job_id: int) -> list[Row]:
    return query(
        url,
        "SELECT length(content) AS n FROM job_trace_chunks WHERE job_id = ? ORDER BY seq",
        (job_id,),
    )


def test_concurrent_appends_at_one_offset_keep_one(seeded: str) -> None:
    async def go() -> tuple[list[int | BaseException], bytes | None]:
        store = open_metadata_store(seeded)
        try:
            await store.traces.append_trace(4, 0, b"x" * TRACE_CHUNK)  # the next starts a piece
            found = await asyncio.gather(
                *(store.traces.append_trace(4, TRACE_CHUNK, b"%d" % n) for n in range(8)),
                return_exceptions=True,
            )
            return list(found), await whole_log(store.traces, 4)
        finally:
            store.close()

    found, log = asyncio.run(go())

    assert sorted(map(repr, found)).count(repr(TRACE_CHUNK + 1)) == 1
    refused = [f for f in found if isinstance(f, TraceOffsetMismatch)]
    assert len(refused) == 7 and {f.size for f in refused} == {TRACE_CHUNK + 1}
    assert log is not None and len(log) == TRACE_CHUNK + 1 and log[-1:].isdigit()
