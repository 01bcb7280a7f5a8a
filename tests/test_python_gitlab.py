"""python-gitlab 8.x, unchanged, against `artifactsvc serve` as a real uvicorn process.

One server per module; each test works on its own jobs so the order does not matter.
The exception each call raises is the one python-gitlab's source declares for that method
(`@exc.on_http_error(...)` in gitlab/v4/objects/jobs.py); 401 is always
GitlabAuthenticationError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gitlab
import pytest
from gitlab import exceptions as exc

from tests.support.apps import import_document
from tests.support.documents import job, many_jobs, pipeline, project, user
from tests.support.processes import server_process

ROOT_TOKEN = "glpat-root-python-gitlab"
REPORTER_TOKEN = "glpat-rita-python-gitlab"
OUTSIDER_TOKEN = "glpat-olga-python-gitlab"
STATUS_CYCLE = ("success", "failed", "running", "pending", "canceled")
FOO_BAR_IDS = list(range(145, 100, -1))  # 45 jobs
KEYSET_IDS = list(range(1260, 1000, -1))  # 260 jobs


def world() -> dict[str, Any]:
    return {
        "users": [
            user(1, "root", admin=True, tokens=(ROOT_TOKEN,)),
            user(2, "rita", tokens=(REPORTER_TOKEN,)),
            user(3, "olga", tokens=(OUTSIDER_TOKEN,)),
        ],
        "projects": [
            project(1, "foo/bar", "private", {"rita": 20}),
            project(2, "big/keyset", "private"),
            project(3, "foo/actions", "private", {"rita": 20}),
        ],
        "pipelines": [pipeline(6, 1), pipeline(7, 2), pipeline(8, 3), pipeline(9, 3, ref="main")],
        "jobs": [
            *many_jobs(1, 6, 101, 45),
            *many_jobs(2, 7, 1001, 260),
            job(201, 8, "failed", name="retry-me", trace="failing log\n"),
            job(202, 8, "running", name="cancel-me"),
            job(203, 8, "manual", name="play-me", when="manual"),
            job(204, 8, "success", name="erase-me", trace="erasable log\n"),
            job(205, 8, "success", name="not-manual"),
            job(206, 8, "running", name="reporter-target"),
            job(207, 8, "pending", name="trigger", kind="bridge", downstream_pipeline_id=9),
            job(208, 8, "running", name="stays-running"),
            job(209, 8, "success", name="trace-me", trace="Running with gitlab-runner\n"),
        ],
    }


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("python-gitlab")
    url = f"sqlite:///{directory}/meta.db"
    import_document(url, world(), directory)
    env = {"ARTIFACTSVC_DATABASE_URL": url, "ARTIFACTSVC_STORAGE_URL": str(directory / "objects")}
    with server_process(env, cwd=directory) as server:
        yield server.base_url


def client(base_url: str, token: str = ROOT_TOKEN) -> gitlab.Gitlab:
    return gitlab.Gitlab(base_url, private_token=token, timeout=10)


@pytest.fixture
def gl(base_url: str) -> gitlab.Gitlab:
    return client(base_url)


def test_project_get_by_full_path(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("foo/bar")

    assert (found.id, found.path_with_namespace, found.visibility) == (1, "foo/bar", "private")


def test_jobs_list_get_all_walks_every_page(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("foo/bar")

    jobs = found.jobs.list(get_all=True, per_page=10)

    assert [j.id for j in jobs] == FOO_BAR_IDS


def test_jobs_list_scope_across_pages(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("foo/bar")
    wanted = ("success", "failed", "running")

    jobs = found.jobs.list(scope=list(wanted), get_all=True, per_page=10)

    assert [j.id for j in jobs] == [i for i in FOO_BAR_IDS if STATUS_CYCLE[(i - 101) % 5] in wanted]
    assert len(jobs) == 27  # three pages
    assert {j.status for j in jobs} == set(wanted)


def test_jobs_list_iterator_reports_no_totals_as_gitlab(gl: gitlab.Gitlab) -> None:
    listing = gl.projects.get("foo/bar").jobs.list(iterator=True, per_page=10)

    # GitLab lists a project's jobs without counting them.
    assert (listing.total, listing.total_pages, listing.per_page) == (None, None, 10)
    assert [j.id for j in listing] == FOO_BAR_IDS


def test_keyset_iteration_yields_each_job_once(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("big/keyset")

    listing = found.jobs.list(
        pagination="keyset", order_by="id", sort="desc", per_page=20, iterator=True
    )

    assert [j.id for j in listing] == KEYSET_IDS


def test_jobs_get(gl: gitlab.Gitlab, base_url: str) -> None:
    found = gl.projects.get("foo/bar").jobs.get(101)

    assert (found.id, found.status, found.name) == (101, "success", "job-101")
    assert found.pipeline["id"] == 6
    assert found.web_url == f"{base_url}/foo/bar/-/jobs/101"


def test_trace(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("foo/actions").jobs.get(209)

    assert found.trace() == b"Running with gitlab-runner\n"


def test_bridges_list(gl: gitlab.Gitlab) -> None:
    bridges = gl.projects.get("foo/actions").pipelines.get(8).bridges.list()

    assert [b.id for b in bridges] == [207]
    assert bridges[0].downstream_pipeline["id"] == 9
    assert bridges[0].downstream_pipeline["ref"] == "main"


def test_cancel(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("foo/actions").jobs.get(202)

    result = found.cancel()
    found.refresh()

    assert (result["id"], result["status"]) == (202, "canceled")
    assert found.status == "canceled"


def test_retry_and_pipeline_jobs_include_retried(gl: gitlab.Gitlab) -> None:
    actions = gl.projects.get("foo/actions")

    new = actions.jobs.get(201).retry()

    assert new["id"] != 201 and new["status"] == "pending" and new["name"] == "retry-me"
    current = [j.id for j in actions.pipelines.get(8).jobs.list(get_all=True)]
    everything = [j.id for j in actions.pipelines.get(8).jobs.list(include_retried=True)]
    assert new["id"] in current and 201 not in current
    assert {201, new["id"]} <= set(everything)


def test_erase(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("foo/actions").jobs.get(204)

    found.erase()
    found.refresh()

    assert found.erased_at is not None
    assert found.trace() == b""


def test_play(gl: gitlab.Gitlab) -> None:
    found = gl.projects.get("foo/actions").jobs.get(203)

    found.play()

    assert found.status == "pending"
    assert gl.projects.get("foo/actions").jobs.get(203).status == "pending"


def test_auth_and_version(gl: gitlab.Gitlab) -> None:
    gl.auth()

    assert gl.user is not None and gl.user.username == "root"
    assert gl.version()[0] == "0.1.0"


def test_a_bad_token_raises_authentication_error(base_url: str) -> None:
    stranger = client(base_url, "glpat-not-known")

    with pytest.raises(exc.GitlabAuthenticationError) as raised:
        stranger.projects.get("foo/bar")
    with pytest.raises(exc.GitlabAuthenticationError):
        stranger.auth()

    assert raised.value.response_code == 401


def test_a_missing_job_raises_get_error_404(gl: gitlab.Gitlab) -> None:
    with pytest.raises(exc.GitlabGetError) as raised:
        gl.projects.get("foo/bar").jobs.get(99999)

    assert raised.value.response_code == 404
    assert raised.value.error_message == "404 Not found"


@pytest.mark.parametrize("token", [ROOT_TOKEN, OUTSIDER_TOKEN])
def test_an_invisible_project_raises_get_error_404(base_url: str, token: str) -> None:
    path = "foo/nope" if token == ROOT_TOKEN else "foo/bar"  # missing, or private to olga

    with pytest.raises(exc.GitlabGetError) as raised:
        client(base_url, token).projects.get(path)

    assert raised.value.response_code == 404
    assert raised.value.error_message == "404 Project Not Found"


def test_retry_of_a_running_job_raises_job_retry_error(gl: gitlab.Gitlab) -> None:
    running = gl.projects.get("foo/actions").jobs.get(208)

    with pytest.raises(exc.GitlabJobRetryError) as raised:
        running.retry()

    assert raised.value.response_code == 403
    assert raised.value.error_message == "403 Forbidden - Job is not retryable"


def test_erase_of_a_running_job_raises_job_erase_error(gl: gitlab.Gitlab) -> None:
    running = gl.projects.get("foo/actions").jobs.get(208)

    with pytest.raises(exc.GitlabJobEraseError) as raised:
        running.erase()

    assert raised.value.response_code == 403
    assert raised.value.error_message == "403 Forbidden - Job is not erasable!"


def test_play_of_a_job_that_is_not_manual_raises_job_play_error(gl: gitlab.Gitlab) -> None:
    finished = gl.projects.get("foo/actions").jobs.get(205)

    with pytest.raises(exc.GitlabJobPlayError) as raised:
        finished.play()

    assert raised.value.response_code == 400
    assert raised.value.error_message == "400 Bad request - Unplayable Job"


def test_a_reporter_gets_403_from_every_transition(base_url: str) -> None:
    target = client(base_url, REPORTER_TOKEN).projects.get("foo/actions").jobs.get(206)
    calls = {
        exc.GitlabJobCancelError: target.cancel,
        exc.GitlabJobRetryError: target.retry,
        exc.GitlabJobEraseError: target.erase,
        exc.GitlabJobPlayError: target.play,
    }

    for error, call in calls.items():
        with pytest.raises(error) as raised:
            call()
        assert (raised.value.response_code, raised.value.error_message) == (403, "403 Forbidden")
    assert target.status == "running"


def test_an_unknown_scope_raises_list_error_400(gl: gitlab.Gitlab) -> None:
    with pytest.raises(exc.GitlabListError) as raised:
        gl.projects.get("foo/bar").jobs.list(scope=["bogus"], get_all=True)

    assert raised.value.response_code == 400
