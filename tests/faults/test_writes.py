"""Uploads, deletes and erases while object storage fails.

An upload caught by a fault answers a JSON 503 within the deadline, aborts its multipart
upload (none left open in the bucket once the fault ends) and records no row. A delete or
erase removes the row (the database is the truth) and answers within the deadline; an
object storage would not delete stays for `artifactsvc gc`, as before.
"""

from __future__ import annotations

import time

import httpx2
import pytest

from tests.artifacts.world import P1, ROOT
from tests.faults.conftest import BOUND, Faulty
from tests.support.faults import Fault
from tests.support.processes import wait_for
from tests.support.service import finish, upload
from tests.support.zips import MiB, sample_zip, sized_zip

UNAVAILABLE = {"message": "503 Service Unavailable"}
# Larger than one part (8 MiB): the upload is multipart; a fault striking after 1 MiB sent
# on a connection lets the multipart upload be created, then breaks its first part.
LARGE = sized_zip(12 * MiB, seed=5)
FAULTS: dict[Fault, int] = {"refuse": 0, "hang": MiB, "reset": MiB, "slowdown": 0}


def timed(send: object) -> tuple[httpx2.Response, float]:
    assert callable(send)
    started = time.monotonic()
    response = send()
    assert isinstance(response, httpx2.Response)
    return response, time.monotonic() - started


@pytest.mark.parametrize("fault", FAULTS)
def test_an_upload_caught_by_a_fault_is_a_503_within_the_deadline_and_leaves_nothing(
    faulty: Faulty, fault: Fault
) -> None:
    job = 120 + list(FAULTS).index(fault)
    objects, rows = faulty.storage.stored(), faulty.rows()
    faulty.proxy.fail(fault, after=FAULTS[fault])
    response, elapsed = timed(lambda: upload(faulty.client, job, LARGE))
    assert response.status_code == 503, response.text[:200]
    assert response.json() == UNAVAILABLE
    assert elapsed < BOUND, f"upload under {fault} took {elapsed:.1f} s"
    faulty.proxy.heal()
    wait_for(lambda: faulty.storage.uploads() == [], timeout=10, what="the upload aborted")
    assert faulty.storage.stored() == objects
    assert faulty.rows() == rows
    # Recovered: the same upload now goes through.
    assert upload(faulty.client, job, sample_zip(seed=job)).status_code == 201


def test_a_delete_during_a_hang_answers_within_the_deadline_and_forgets_the_row(
    faulty: Faulty,
) -> None:
    job = 130
    assert upload(faulty.client, job, sample_zip(seed=job)).status_code == 201
    before = faulty.storage.stored()
    faulty.proxy.fail("hang")
    response, elapsed = timed(
        lambda: faulty.client.delete(f"{P1}/jobs/{job}/artifacts", headers=ROOT)
    )
    assert response.status_code == 204, response.text[:200]
    assert elapsed < BOUND + 1.0, f"delete took {elapsed:.1f} s"  # two objects: two deadlines
    assert [row for row in faulty.rows() if row["job_id"] == job] == []
    faulty.proxy.heal()
    # What storage would not delete is an orphan for gc, unless the storage thread's retry
    # of the DELETE, after the answer, reached the healed storage; nothing else changed.
    left = faulty.storage.stored()
    mine = [key for key in before if f"/jobs/{job}/" in key]
    assert mine and left in (before, [key for key in before if key not in mine])
    assert faulty.storage.uploads() == []


def test_an_erase_during_a_hang_answers_within_the_deadline_and_forgets_the_rows(
    faulty: Faulty,
) -> None:
    job = 131
    assert upload(faulty.client, job, sample_zip(seed=job)).status_code == 201
    finish(faulty.client, job)
    faulty.proxy.fail("hang")
    response, elapsed = timed(lambda: faulty.client.post(f"{P1}/jobs/{job}/erase", headers=ROOT))
    assert response.status_code == 201, response.text[:200]
    assert elapsed < BOUND + 1.0, f"erase took {elapsed:.1f} s"
    assert [row for row in faulty.rows() if row["job_id"] == job] == []
    faulty.proxy.heal()
    assert faulty.client.get(f"{P1}/jobs/{job}/artifacts", headers=ROOT).status_code == 404
