"""Concurrent uploads of one type to one job through two replicas: one row, one object."""

from __future__ import annotations

from tests.races.conftest import Replicas
from tests.support.database import query
from tests.support.service import upload
from tests.support.zips import sample_zip

N = 4


def _rows(replicas: Replicas, job_id: int) -> list[dict[str, object]]:
    return query(
        replicas.database_url, "SELECT object_key FROM artifacts WHERE job_id = ?", (job_id,)
    )


def _objects(replicas: Replicas, job_id: int) -> list[str]:
    return [key for key in replicas.storage.stored() if f"/jobs/{job_id}/" in key]


def test_concurrent_uploads_of_different_bytes_store_one(replicas: Replicas) -> None:
    job_id = replicas.job("running")
    archives = [sample_zip(seed=n) for n in range(N)]

    answers = replicas.at_once(N, lambda c: upload(c, job_id, archives.pop()))

    assert sorted(a.status_code for a in answers) == [201] + [400] * (N - 1), [
        a.text for a in answers
    ]
    rows = _rows(replicas, job_id)
    assert len(rows) == 1
    key = replicas.storage.name(str(rows[0]["object_key"]))
    assert _objects(replicas, job_id) == sorted([key, f"{key}.index"])  # no orphan


def test_concurrent_identical_uploads_all_succeed_and_store_one(replicas: Replicas) -> None:
    job_id = replicas.job("running")
    data = sample_zip(seed=job_id)

    answers = replicas.at_once(N, lambda c: upload(c, job_id, data))

    assert [a.status_code for a in answers] == [201] * N  # GitLab: same SHA-256, same answer
    rows = _rows(replicas, job_id)
    assert len(rows) == 1
    key = replicas.storage.name(str(rows[0]["object_key"]))
    assert _objects(replicas, job_id) == sorted([key, f"{key}.index"])
