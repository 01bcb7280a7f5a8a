"""Concurrent state changes through two replicas: one transition, GitLab's answer for the rest."""

from __future__ import annotations

from tests.races.conftest import Replicas
from tests.runner.world import DEVELOPER
from tests.support.database import query
from tests.support.service import finish, upload_archive
from tests.support.zips import sample_zip

N = 4


def _jobs_named(replicas: Replicas, job_id: int) -> list[dict[str, object]]:
    return query(
        replicas.database_url,
        "SELECT id, status, retried FROM jobs WHERE name = ? ORDER BY id",
        (f"job-{job_id}",),
    )


def test_four_concurrent_retries_of_a_job_create_one_job(replicas: Replicas) -> None:
    job_id = replicas.job("failed")

    answers = replicas.at_once(
        N, lambda c: c.post(f"/api/v4/projects/1/jobs/{job_id}/retry", headers=DEVELOPER)
    )

    assert sorted(a.status_code for a in answers) == [201] + [403] * (N - 1)
    refused = [a.json() for a in answers if a.status_code == 403]
    assert refused == [{"message": "403 Forbidden - Job is not retryable"}] * (N - 1)
    jobs = _jobs_named(replicas, job_id)
    assert len(jobs) == 2, jobs
    assert jobs[0]["retried"] == 1 and jobs[1]["retried"] == 0


def test_concurrent_cancels_make_one_transition(replicas: Replicas) -> None:
    job_id = replicas.job("pending")

    answers = replicas.at_once(
        N, lambda c: c.post(f"/api/v4/projects/1/jobs/{job_id}/cancel", headers=DEVELOPER)
    )

    # GitLab answers a job that is no longer cancelable with the job as it is: 201.
    assert [a.status_code for a in answers] == [201] * N
    assert {a.json()["status"] for a in answers} == {"canceled"}
    finished = {a.json()["finished_at"] for a in answers}
    assert len(finished) == 1, finished  # one transition stamped it


def test_concurrent_plays_of_a_manual_job_make_one_transition(replicas: Replicas) -> None:
    job_id = replicas.job("manual")

    answers = replicas.at_once(
        N, lambda c: c.post(f"/api/v4/projects/1/jobs/{job_id}/play", headers=DEVELOPER)
    )

    assert sorted(a.status_code for a in answers) == [200] + [400] * (N - 1)
    assert [a.json()["status"] for a in answers if a.status_code == 200] == ["pending"]
    assert len(_jobs_named(replicas, job_id)) == 1


def test_concurrent_erases_erase_once(replicas: Replicas) -> None:
    job_id = replicas.job("running")
    upload_archive(replicas.clients[0], job_id, sample_zip(seed=job_id))
    finish(replicas.clients[1], job_id)

    answers = replicas.at_once(
        N, lambda c: c.post(f"/api/v4/projects/1/jobs/{job_id}/erase", headers=DEVELOPER)
    )

    assert sorted(a.status_code for a in answers) == [201] + [403] * (N - 1)
    assert query(replicas.database_url, "SELECT * FROM artifacts WHERE job_id = ?", (job_id,)) == []
    assert not [k for k in replicas.storage.stored() if f"/jobs/{job_id}/" in k]


def test_concurrent_finishes_of_a_running_job_move_it_once(replicas: Replicas) -> None:
    job_id = replicas.job("running")
    states = ["success", "failed"] * (N // 2)

    answers = replicas.at_once(
        N,
        lambda c: c.put(
            f"/api/v4/jobs/{job_id}",
            json={"token": f"job-{job_id}", "state": states.pop()},
        ),
    )

    assert sorted(a.status_code for a in answers) == [200] + [403] * (N - 1)
    (won,) = [a.json()["status"] for a in answers if a.status_code == 200]
    status = query(replicas.database_url, "SELECT status FROM jobs WHERE id = ?", (job_id,))
    assert status == [{"status": won}]


def test_concurrent_first_trace_pieces_keep_one(replicas: Replicas) -> None:
    job_id = replicas.job("running")
    pieces = [b"piece %d\n" % n for n in range(N)]

    answers = replicas.at_once(
        N,
        lambda c: c.patch(
            f"/api/v4/jobs/{job_id}/trace",
            content=pieces.pop(),
            headers={"JOB-TOKEN": f"job-{job_id}", "Content-Range": "0-7"},
        ),
    )

    assert sorted(a.status_code for a in answers) == [202] + [416] * (N - 1)
    content = query(
        replicas.database_url, "SELECT content FROM job_trace_chunks WHERE job_id = ?", (job_id,)
    )
    assert len(content) == 1 and len(content[0]["content"]) == 8
    size = query(replicas.database_url, "SELECT size FROM job_traces WHERE job_id = ?", (job_id,))
    assert size == [{"size": 8}]
