"""Several replicas behave as one: what one writes, the other reads, changes and deletes."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.artifacts.test_expiry import expired_line
from tests.races.conftest import Replicas
from tests.runner.world import ADMIN
from tests.support.database import execute, query
from tests.support.service import finish, upload_archive
from tests.support.zips import sample_zip


def _objects(replicas: Replicas, job_id: int) -> list[str]:
    return [key for key in replicas.storage.stored() if f"/jobs/{job_id}/" in key]


def test_an_upload_through_one_replica_is_read_through_the_other_by_its_stored_index(
    replicas: Replicas,
) -> None:
    one, other = replicas.clients
    job_id = replicas.job("running")
    data = sample_zip(seed=job_id)
    upload_archive(one, job_id, data)
    finish(one, job_id)
    index = "SELECT index_key, index_directory FROM artifacts WHERE job_id = ?"
    recorded = query(replicas.database_url, index, (job_id,))
    stored = _objects(replicas, job_id)

    archive = other.get(f"/api/v4/projects/1/jobs/{job_id}/artifacts", headers=ADMIN)
    member = other.get(f"/api/v4/projects/1/jobs/{job_id}/artifacts/README.md", headers=ADMIN)

    assert archive.status_code == 200 and archive.content == data
    assert member.status_code == 200 and member.content == f"seed {job_id}\n".encode()
    # Nothing rebuilt: the index row and the stored objects are the uploader's.
    assert query(replicas.database_url, index, (job_id,)) == recorded
    assert recorded[0]["index_key"] is not None and recorded[0]["index_directory"]
    assert _objects(replicas, job_id) == stored


def test_keep_and_delete_through_the_other_replica(replicas: Replicas) -> None:
    one, other = replicas.clients
    job_id = replicas.job("running")
    upload_archive(one, job_id, sample_zip(seed=job_id))
    finish(one, job_id)
    execute(
        replicas.database_url,
        "UPDATE artifacts SET expire_at = '2999-01-01T00:00:00.000Z' WHERE job_id = ?",
        (job_id,),
    )

    kept = other.post(f"/api/v4/projects/1/jobs/{job_id}/artifacts/keep", headers=ADMIN)
    assert kept.status_code == 200, kept.text
    expiry = query(
        replicas.database_url, "SELECT expire_at FROM artifacts WHERE job_id = ?", (job_id,)
    )
    assert expiry == [{"expire_at": None}]

    deleted = other.delete(f"/api/v4/projects/1/jobs/{job_id}/artifacts", headers=ADMIN)
    assert deleted.status_code == 204, deleted.text
    assert query(replicas.database_url, "SELECT 1 FROM artifacts WHERE job_id = ?", (job_id,)) == []
    assert _objects(replicas, job_id) == []
    gone = one.get(f"/api/v4/projects/1/jobs/{job_id}/artifacts", headers=ADMIN)
    assert gone.status_code == 404


def test_two_expire_commands_at_once_delete_each_artifact_once(replicas: Replicas) -> None:
    jobs = [replicas.job("running") for _ in range(4)]
    for job_id in jobs:
        upload_archive(replicas.clients[job_id % 2], job_id, sample_zip(seed=job_id))
    marks = ", ".join("?" for _ in jobs)
    execute(
        replicas.database_url,
        f"UPDATE artifacts SET expire_at = '2000-01-01T00:00:00.000Z' WHERE job_id IN ({marks})",
        jobs,
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    env = {**clean, **replicas.env, "ARTIFACTSVC_KEEP_LATEST_ARTIFACTS": "false"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "artifactsvc", "expire"],
            env=env,
            cwd=replicas.directory,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]

    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
    counts = [expired_line(out) for out, _ in outputs]
    assert sum(deleted for deleted, _, _ in counts) == len(jobs)
    assert sum(failed for _, _, failed in counts) == 0
    found = query(replicas.database_url, f"SELECT 1 FROM artifacts WHERE job_id IN ({marks})", jobs)
    assert found == []
    assert [key for job_id in jobs for key in _objects(replicas, job_id)] == []


def test_concurrent_deletes_through_both_replicas_leave_nothing(replicas: Replicas) -> None:
    job_id = replicas.job("running")
    upload_archive(replicas.clients[0], job_id, sample_zip(seed=job_id))
    finish(replicas.clients[0], job_id)

    answers = replicas.at_once(
        4, lambda c: c.delete(f"/api/v4/projects/1/jobs/{job_id}/artifacts", headers=ADMIN)
    )

    assert 204 in [a.status_code for a in answers]
    assert {a.status_code for a in answers} <= {204, 404}, [a.text for a in answers]
    assert query(replicas.database_url, "SELECT 1 FROM artifacts WHERE job_id = ?", (job_id,)) == []
    assert _objects(replicas, job_id) == []
