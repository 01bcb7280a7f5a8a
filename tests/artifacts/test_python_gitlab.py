"""python-gitlab, unchanged, against `artifactsvc serve` (uvicorn in its own process)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import gitlab
import pytest
from gitlab.exceptions import GitlabCreateError, GitlabDeleteError, GitlabGetError

from tests.support.documents import pipeline
from tests.support.service import Service
from tests.support.zips import sample_zip, sized_zip


@pytest.fixture
def server(make_service: Callable[..., Service]) -> Service:
    return make_service(real=True)


def client(service: Service, user_token: str = "root-token") -> gitlab.Gitlab:
    return gitlab.Gitlab(str(service.client.base_url), private_token=user_token, timeout=60)


def test_python_gitlab_downloads_byte_for_byte_what_the_runner_uploaded(server: Service) -> None:
    archive = sized_zip(1536 * 1024, seed=51)
    branch = sample_zip(seed=52)
    assert server.upload(100, archive, params={"artifact_type": "archive"}).status_code == 201
    assert server.upload(110, branch).status_code == 201
    server.finish(100)
    server.finish(110)
    project = client(server).projects.get(1, lazy=True)
    job = project.jobs.get(100)
    assert job.artifacts_file == {"filename": "artifacts.zip", "size": len(archive)}

    digest = hashlib.sha256()
    job.artifacts(streamed=True, action=digest.update, chunk_size=64 * 1024)
    assert digest.hexdigest() == hashlib.sha256(archive).hexdigest()
    assert job.artifacts() == archive

    by_ref = hashlib.sha256()
    project.artifacts.download(ref_name="master", job="build", streamed=True, action=by_ref.update)
    assert by_ref.hexdigest() == hashlib.sha256(archive).hexdigest()
    # python-gitlab puts the ref into the path as it is: `feature/x` arrives raw.
    assert project.artifacts.download(ref_name="feature/x", job="build") == branch
    with pytest.raises(GitlabGetError) as missing:
        project.artifacts.download(ref_name="master", job="no-such-job")
    assert missing.value.response_code == 404


def test_python_gitlab_keeps_and_deletes_artifacts(server: Service) -> None:
    server.seed({"pipelines": [pipeline(12, 1, ref="master")]})  # pipeline 10 is not locked
    for job_id in (100, 101):
        assert (
            server.upload(
                job_id, sample_zip(seed=job_id), params={"expire_in": "1 day"}
            ).status_code
            == 201
        )
    root = client(server).projects.get(1, lazy=True)
    job = root.jobs.get(100)
    assert job.artifacts_expire_at is not None
    job.keep_artifacts()
    assert root.jobs.get(100).artifacts_expire_at is None

    developer = client(server, "dev-token").projects.get(1, lazy=True)
    # python-gitlab 8.6 reports a failed `delete_artifacts` as GitlabCreateError.
    with pytest.raises(GitlabCreateError) as denied:
        developer.jobs.get(100, lazy=True).delete_artifacts()
    assert denied.value.response_code == 403
    assert server.download(100).status_code == 200

    maintainer = client(server, "maint-token").projects.get(1, lazy=True)
    maintainer.jobs.get(100, lazy=True).delete_artifacts()
    assert server.download(100).status_code == 404
    assert [row["job_id"] for row in server.rows()] == [101]
    assert all("/jobs/100/" not in key for key in server.storage.stored())

    with pytest.raises(GitlabDeleteError) as refused:
        developer.artifacts.delete()
    assert refused.value.response_code == 403
    assert server.download(101).status_code == 200
    maintainer.artifacts.delete()
    with pytest.raises(GitlabGetError) as gone:
        root.jobs.get(101, lazy=True).artifacts()
    assert gone.value.response_code == 404
