"""Expiry, locks, keep, delete, erase, and the `expire` and `gc` commands (CONTRACT section 11),
on both metadata stores."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from artifactsvc.models import parse_time
from tests.artifacts.world import DEVELOPER, MAINTAINER, P1, REPORTER, ROOT, token
from tests.support.documents import job, pipeline
from tests.support.processes import run_artifactsvc, wait_for
from tests.support.service import Service
from tests.support.zips import sample_zip

PAST = "2020-01-01T00:00:00.000Z"
FUTURE = "2999-01-01T00:00:00.000Z"
EXPIRED = re.compile(r"^expired (\d+) artifacts \((\d+) bytes\); (\d+) objects left for gc$")


@pytest.fixture
def service(make_service: Callable[..., Service], database_url: str) -> Service:
    return make_service(database_url)


def with_archive(job_id: int, pipeline_id: int, name: str, expire_at: str | None) -> Any:
    """A finished job whose archive (`<id>.zip` beside the import file) the import stores."""
    return job(
        job_id, pipeline_id, "success", name=name, user="dev",
        artifacts=[{"file_type": "archive", "path": f"{job_id}.zip", "expire_at": expire_at}],
    )  # fmt: skip


def seed_archives(service: Service, document: dict[str, Any]) -> dict[int, bytes]:
    """Writes a distinct zip for every job of `document` that names one, then imports it."""
    archives: dict[int, bytes] = {}
    for item in document.get("jobs", []):
        if item.get("artifacts"):
            archives[item["id"]] = sample_zip(seed=item["id"])
            (service.directory / f"{item['id']}.zip").write_bytes(archives[item["id"]])
    service.seed(document)
    return archives


def read_endpoints(job_id: int, ref: str, name: str) -> list[tuple[str, str, dict[str, str]]]:
    """Every endpoint that reads an archive or a file of it, for one job."""
    by_ref = f"{P1}/jobs/artifacts/{ref}"
    return [
        ("GET", f"{P1}/jobs/{job_id}/artifacts", ROOT),
        ("HEAD", f"{P1}/jobs/{job_id}/artifacts", ROOT),
        ("GET", f"{P1}/jobs/{job_id}/artifacts/README.md", ROOT),
        ("GET", f"{P1}/jobs/{job_id}/artifacts_tree", ROOT),
        ("GET", f"{by_ref}/download?job={name}", ROOT),
        ("GET", f"{by_ref}/download?job={name}&search_recent_successful_pipelines=true", ROOT),
        ("GET", f"{by_ref}/raw/README.md?job={name}", ROOT),
        ("GET", f"/api/v4/jobs/{job_id}/artifacts", token(101)),
    ]


def statuses(service: Service, job_id: int, ref: str, name: str) -> dict[str, int]:
    return {
        f"{method} {path}": service.client.request(method, path, headers=headers).status_code
        for method, path, headers in read_endpoints(job_id, ref, name)
    }


def assert_no_artifacts_in_job_json(service: Service, job_id: int) -> None:
    body = service.job(job_id)
    assert "artifacts_file" not in body
    assert body["artifacts"] == []
    assert body["artifacts_expire_at"] is None
    listed = service.client.get(f"{P1}/jobs", headers=ROOT).json()
    [entry] = [item for item in listed if item["id"] == job_id]
    assert entry["artifacts"] == []
    assert "artifacts_file" not in entry


def test_expired_artifacts_are_gone_from_every_read_endpoint_at_once(
    make_service: Callable[..., Service], database_url: str
) -> None:
    service = make_service(database_url, keep_latest_artifacts=False)
    seed_archives(
        service,
        {"jobs": [with_archive(103, 10, "old", PAST), with_archive(104, 10, "fresh", FUTURE)]},
    )
    live = statuses(service, 104, "master", "fresh")
    assert set(live.values()) == {200}, live
    gone = statuses(service, 103, "master", "old")
    assert set(gone.values()) == {404}, gone
    assert service.download(103).json() == {"message": "404 Not Found"}
    assert_no_artifacts_in_job_json(service, 103)
    assert service.job(104)["artifacts_file"]["filename"] == "artifacts.zip"


def test_expire_in_takes_effect_without_any_sweep(service: Service) -> None:
    """Uploaded with `expire_in: 1 sec` in an old pipeline (a newer one on master succeeded)."""
    service.seed({"pipelines": [pipeline(12, 1, ref="master")]})
    data = sample_zip(seed=5)
    response = service.upload(100, data, params={"expire_in": "1 sec"})
    assert response.status_code == 201
    [row] = service.rows()
    expire_at = parse_time(row["expire_at"])
    assert expire_at is not None
    assert abs(expire_at - (datetime.now(UTC) + timedelta(seconds=1))) < timedelta(seconds=2)
    wait_for(lambda: service.download(100).status_code == 404, timeout=5, what="expiry")
    assert_no_artifacts_in_job_json(service, 100)
    assert len(service.storage.stored()) == 2  # the sweep (`expire`) has not run


def test_keep_latest_locks_the_newest_successful_pipeline_until_a_newer_one_succeeds(
    service: Service,
) -> None:
    """All three archives expired long ago; only the locked ones are still served."""
    archives = seed_archives(
        service,
        {
            "pipelines": [pipeline(12, 1, ref="master", status="running")],
            "jobs": [
                with_archive(103, 10, "build-a", PAST),  # master's newest success: locked
                with_archive(113, 11, "build-b", PAST),  # feature/x's newest success: locked
                with_archive(123, 12, "build-c", PAST),  # a running pipeline: not locked
            ],
        },
    )
    assert service.download(103).content == archives[103]
    assert service.download(113).content == archives[113]
    assert service.download(123).status_code == 404
    assert service.job(103)["artifacts_file"]["size"] == len(archives[103])
    by_ref = f"{P1}/jobs/artifacts/master/download"
    response = service.client.get(by_ref, params={"job": "build-a"}, headers=ROOT)
    assert response.content == archives[103]

    service.seed({"pipelines": [pipeline(12, 1, ref="master", status="success")]})
    assert service.download(103).status_code == 404  # unlocked by the newer success
    assert_no_artifacts_in_job_json(service, 103)
    assert service.download(123).content == archives[123]  # now the locked one
    assert service.download(113).content == archives[113]  # another ref: untouched


def test_keep_sets_artifacts_expire_at_null(service: Service) -> None:
    data = sample_zip(seed=6)
    assert service.upload(100, data, params={"expire_in": "1 week"}).status_code == 201
    assert service.job(100)["artifacts_expire_at"] is not None
    denied = service.client.post(f"{P1}/jobs/100/artifacts/keep", headers=REPORTER)
    assert denied.status_code == 403
    kept = service.client.post(f"{P1}/jobs/100/artifacts/keep", headers=DEVELOPER)
    assert kept.status_code == 200
    assert kept.json()["id"] == 100
    assert kept.json()["artifacts_expire_at"] is None
    assert kept.json()["artifacts_file"] == {"filename": "artifacts.zip", "size": len(data)}
    assert [row["expire_at"] for row in service.rows()] == [None]
    assert service.download(100).content == data
    nothing = service.client.post(f"{P1}/jobs/101/artifacts/keep", headers=DEVELOPER)
    assert nothing.status_code == 404


def test_keep_on_an_expired_archive_is_404(service: Service) -> None:
    service.seed({"pipelines": [pipeline(12, 1, ref="master")]})
    seed_archives(service, {"jobs": [with_archive(103, 10, "old", PAST)]})
    response = service.client.post(f"{P1}/jobs/103/artifacts/keep", headers=DEVELOPER)
    assert response.status_code == 404
    assert service.download(103).status_code == 404


def test_deleting_project_artifacts_expires_every_unlocked_one_at_once(service: Service) -> None:
    archives = seed_archives(
        service,
        {
            "pipelines": [pipeline(12, 1, ref="master")],
            "jobs": [
                with_archive(103, 10, "a", FUTURE),
                with_archive(104, 10, "b", None),  # kept: expires too
                with_archive(123, 12, "a", FUTURE),  # the newest success on master: locked
            ],
        },
    )
    denied = service.client.delete(f"{P1}/artifacts", headers=DEVELOPER)
    assert denied.status_code == 403
    assert service.download(103).status_code == 200
    response = service.client.delete(f"{P1}/artifacts", headers=MAINTAINER)
    assert response.status_code == 202
    assert response.json() == {"message": "202 Accepted"}
    assert service.download(103).status_code == 404
    assert service.download(104).status_code == 404
    assert_no_artifacts_in_job_json(service, 104)
    assert service.download(123).content == archives[123]
    # Expired, not yet deleted: the sweep removes them.
    assert len(service.rows()) == 3


def test_delete_job_artifacts_needs_a_maintainer_and_removes_the_objects(
    service: Service,
) -> None:
    assert service.upload(100, sample_zip(seed=7)).status_code == 201
    denied = service.client.delete(f"{P1}/jobs/100/artifacts", headers=DEVELOPER)
    assert denied.status_code == 403
    assert denied.json() == {"message": "403 Forbidden"}
    assert len(service.storage.stored()) == 2
    response = service.client.delete(f"{P1}/jobs/100/artifacts", headers=MAINTAINER)
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert service.storage.stored() == []
    assert service.rows() == []
    assert service.download(100).status_code == 404
    again = service.client.delete(f"{P1}/jobs/100/artifacts", headers=MAINTAINER)
    assert again.status_code == 204


def test_erase_removes_the_artifacts_and_their_objects(service: Service) -> None:
    assert service.upload(100, sample_zip(seed=8)).status_code == 201
    service.finish(100)
    response = service.client.post(f"{P1}/jobs/100/erase", headers=DEVELOPER)  # dev's own job
    assert response.status_code == 201
    body = response.json()
    assert body["erased_at"] is not None
    assert body["artifacts"] == []
    assert "artifacts_file" not in body
    assert service.storage.stored() == []
    assert service.rows() == []
    assert service.download(100).status_code == 404


# -- the commands (real processes) ------------------------------------------------------


def command_env(service: Service) -> dict[str, str]:
    return {"ARTIFACTSVC_DATABASE_URL": service.database_url, **service.storage.env}


def expired_line(output: str) -> tuple[int, int, int]:
    match = EXPIRED.match(output.strip())
    assert match is not None, output
    deleted, size, failed = (int(group) for group in match.groups())
    return deleted, size, failed


def seed_for_sweep(service: Service, first_id: int, count: int) -> dict[int, bytes]:
    """`count` expired archives in an old pipeline, a live one, and a locked expired one."""
    jobs = [with_archive(first_id + n, 10, f"sweep-{n}", PAST) for n in range(count)]
    jobs += [with_archive(first_id + count, 10, "live", FUTURE),
             with_archive(first_id + count + 1, 12, "locked", PAST)]  # fmt: skip
    return seed_archives(service, {"pipelines": [pipeline(12, 1, ref="master")], "jobs": jobs})


def test_expire_command_deletes_objects_and_rows_and_is_idempotent(service: Service) -> None:
    archives = seed_for_sweep(service, 500, 3)
    keep = {row["object_key"] for row in service.rows() if row["job_id"] in (503, 504)}
    result = run_artifactsvc("expire", env=command_env(service), cwd=service.directory)
    assert result.returncode == 0, result.stderr
    assert expired_line(result.stdout) == (3, sum(len(archives[500 + n]) for n in range(3)), 0)
    assert {row["job_id"] for row in service.rows()} == {503, 504}
    expected = sorted(service.storage.name(k) for key in keep for k in (key, f"{key}.index"))
    assert service.storage.stored() == expected
    assert service.download(503).content == archives[503]
    assert service.download(504).content == archives[504]

    again = run_artifactsvc("expire", env=command_env(service), cwd=service.directory)
    assert again.returncode == 0, again.stderr
    assert expired_line(again.stdout) == (0, 0, 0)
    assert service.storage.stored() == expected


def test_two_expire_runs_at_once_both_succeed_and_delete_each_artifact_once(
    service: Service,
) -> None:
    count = 12
    seed_for_sweep(service, 600, count)
    env = command_env(service)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARTIFACTSVC_")}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "artifactsvc", "expire"],
            env={**clean, **env},
            cwd=service.directory,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
    counts = [expired_line(out) for out, _ in outputs]
    assert sum(deleted for deleted, _, _ in counts) == count
    assert sum(failed for _, _, failed in counts) == 0
    assert {row["job_id"] for row in service.rows()} == {600 + count, 600 + count + 1}
    assert len(service.storage.stored()) == 4


def test_gc_removes_old_orphans_and_stale_uploads_only(service: Service) -> None:
    data = sample_zip(seed=9)
    assert service.upload(100, data).status_code == 201
    live = [key for row in service.rows() for key in (row["object_key"], row["index_key"])]
    service.storage.put("projects/1/jobs/100/orphan-old", b"left by a crash")
    service.storage.put("projects/1/jobs/100/orphan-new", b"an upload in flight")
    for key in [*live, "projects/1/jobs/100/orphan-old"]:
        service.storage.backdate(key, timedelta(hours=2))
    service.storage.stale_upload("projects/1/jobs/100/abandoned")
    result = run_artifactsvc("gc", env=command_env(service), cwd=service.directory)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "removed 1 orphaned objects; aborted 1 stale uploads"
    # The live archive and its index are as old as the orphan, but a row names them.
    expected = [*live, "projects/1/jobs/100/orphan-new"]
    assert service.storage.stored() == sorted(service.storage.name(key) for key in expected)
    assert service.storage.uploads() == []
    assert [row["job_id"] for row in service.rows()] == [100]
