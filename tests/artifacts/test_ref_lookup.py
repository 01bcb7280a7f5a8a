"""Downloads by ref (GET /projects/:id/jobs/artifacts/:ref_name/download?job=NAME), on both
metadata stores: the newest successful pipeline, retried jobs, refs with `/`, and
`search_recent_successful_pipelines`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.artifacts.world import MAINTAINER, ROOT, token
from tests.support.documents import job, pipeline, running
from tests.support.service import Service
from tests.support.zips import sample_zip

PAST = "2020-01-01T00:00:00.000Z"


@pytest.fixture
def service(make_service: Callable[..., Service], database_url: str) -> Service:
    return make_service(database_url)


def by_ref(service: Service, ref: str, name: str | None = "build", **query: str) -> Any:
    params = {**({"job": name} if name is not None else {}), **query}
    return service.client.get(
        f"/api/v4/projects/1/jobs/artifacts/{ref}/download", params=params, headers=ROOT
    )


def build_on(service: Service, job_id: int, data: bytes | None, state: str = "success") -> None:
    """Job `job_id` uploads `data` (if any) while running, then finishes."""
    if data is not None:
        assert service.upload(job_id, data).status_code == 201
    service.finish(job_id, state)


def test_ref_download_takes_the_newest_successful_pipeline(service: Service) -> None:
    service.seed(
        {
            "pipelines": [
                pipeline(12, 1, ref="master"),
                pipeline(13, 1, ref="master", status="failed"),
                pipeline(14, 1, ref="master", status="running"),
            ],
            "jobs": [running(120, 12, "build"), running(130, 13, "build"),
                     running(140, 14, "build")],
        }
    )  # fmt: skip
    archives = {job_id: sample_zip(seed=job_id) for job_id in (100, 120, 130, 140)}
    for job_id, data in archives.items():
        build_on(service, job_id, data)
    response = by_ref(service, "master")
    assert response.status_code == 200
    assert response.content == archives[120]
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert by_ref(service, "master", "test").status_code == 404  # no such job there
    assert by_ref(service, "no-such-ref").status_code == 404


def test_ref_download_needs_a_successful_pipeline_not_a_successful_job(service: Service) -> None:
    """GitLab's latest_successful_build_for_ref: any build of that name with downloadable
    artifacts in the ref's newest successful pipeline, whatever the build's own status."""
    service.seed({"pipelines": [pipeline(16, 1, ref="wip", status="running")],
                  "jobs": [running(160, 16, "build")]})  # fmt: skip
    data = sample_zip(seed=1)
    assert service.upload(100, data).status_code == 201
    assert by_ref(service, "master").content == data  # pipeline 10 succeeded; 100 runs on
    assert service.upload(160, sample_zip(seed=2)).status_code == 201
    assert by_ref(service, "wip").status_code == 404  # pipeline 16 has not succeeded


def test_ref_download_ignores_retried_jobs(service: Service) -> None:
    service.seed({"pipelines": [pipeline(15, 1, ref="release")],
                  "jobs": [running(150, 15, "build")]})  # fmt: skip
    build_on(service, 150, sample_zip(seed=150))
    assert by_ref(service, "release").status_code == 200
    retry = service.client.post("/api/v4/projects/1/jobs/150/retry", headers=MAINTAINER)
    assert retry.status_code == 201
    # The newest `build` of the pipeline is the retry: it has no archive yet.
    assert by_ref(service, "release").status_code == 404
    recent = by_ref(service, "release", search_recent_successful_pipelines="true")
    assert recent.status_code == 404


@pytest.mark.parametrize("ref", ["feature/x", "feature%2Fx"])
def test_ref_with_a_slash_works_raw_and_encoded(service: Service, ref: str) -> None:
    data = sample_zip(seed=110)
    build_on(service, 110, data)
    build_on(service, 100, sample_zip(seed=100))
    response = by_ref(service, ref)
    assert response.status_code == 200
    assert response.content == data


def test_search_recent_finds_an_older_live_archive(service: Service) -> None:
    """main: p16 (job with a live archive), p17 (its archive expired), p18 newest (none)."""
    older, expired = sample_zip(seed=160), sample_zip(seed=170)
    (service.directory / "expired.zip").write_bytes(expired)
    service.seed(
        {
            "pipelines": [pipeline(n, 1, ref="main") for n in (16, 17, 18)],
            "jobs": [
                running(160, 16, "build"),
                job(170, 17, "success", name="build",
                    artifacts=[{"file_type": "archive", "path": "expired.zip",
                                "expire_at": PAST}]),
                running(180, 18, "build"),
            ],
        }
    )  # fmt: skip
    build_on(service, 160, older)
    build_on(service, 180, None)
    assert by_ref(service, "main").status_code == 404
    for flag in ("true", "True", "1"):
        response = by_ref(service, "main", search_recent_successful_pipelines=flag)
        assert response.status_code == 200, flag
        assert response.content == older
    assert by_ref(service, "main", search_recent_successful_pipelines="false").status_code == 404


def test_search_recent_prefers_the_newest_pipelines_live_archive(service: Service) -> None:
    service.seed({"pipelines": [pipeline(16, 1, ref="main"), pipeline(17, 1, ref="main")],
                  "jobs": [running(160, 16, "build"), running(170, 17, "build")]})  # fmt: skip
    build_on(service, 160, sample_zip(seed=160))
    newest = sample_zip(seed=170)
    build_on(service, 170, newest)
    response = by_ref(service, "main", search_recent_successful_pipelines="true")
    assert response.content == newest


@pytest.mark.parametrize("query", [{}, {"job": ""}])
def test_ref_download_without_a_job_name_is_400(service: Service, query: dict[str, str]) -> None:
    response = service.client.get(
        "/api/v4/projects/1/jobs/artifacts/master/download", params=query, headers=ROOT
    )
    assert response.status_code == 400
    assert response.json() == {"error": "job is missing"}


def test_ref_download_by_a_job_token_of_an_allowlisted_project(service: Service) -> None:
    data = sample_zip(seed=2)
    build_on(service, 100, data)
    allowed = service.client.get(
        "/api/v4/projects/1/jobs/artifacts/master/download", params={"job": "build"},
        headers=token(200),
    )  # fmt: skip
    assert allowed.status_code == 200
    assert allowed.content == data
    stranger = service.client.get(
        "/api/v4/projects/1/jobs/artifacts/master/download", params={"job": "build"},
        headers=token(300),
    )  # fmt: skip
    assert stranger.status_code == 403
    assert stranger.json() == {
        "message": "403 Forbidden - Authentication by CI/CD job token not allowed from"
        " stranger to app."
    }
