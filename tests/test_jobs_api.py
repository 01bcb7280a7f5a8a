"""The Jobs API's shapes and state machine (CONTRACT sections 6 and 9), on SQLite and PostgreSQL.

Each test seeds a fresh store through the importer and talks to the real app over HTTP.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.apps import EXTERNAL, app_client, app_settings
from tests.support.documents import job, pipeline, project, user
from tests.support.processes import run_artifactsvc

ROOT = {"PRIVATE-TOKEN": "glpat-root"}
ALICE = {"PRIVATE-TOKEN": "glpat-alice"}  # developer of foo/bar
MONA = {"PRIVATE-TOKEN": "glpat-mona"}  # maintainer of foo/bar
P = "/api/v4/projects/foo%2Fbar"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

JOB_FIELDS = {
    "id", "status", "stage", "name", "ref", "tag", "coverage", "allow_failure", "created_at",
    "started_at", "finished_at", "erased_at", "duration", "queued_duration", "user", "commit",
    "pipeline", "web_url", "artifacts", "artifacts_expire_at", "runner", "tag_list",
}  # fmt: skip
BASIC_FIELDS = {
    "id", "status", "stage", "name", "ref", "tag", "coverage", "allow_failure", "created_at",
    "started_at", "finished_at", "erased_at", "duration", "queued_duration", "user", "commit",
    "pipeline", "web_url",
}  # fmt: skip
PIPELINE_FIELDS = {
    "id", "iid", "project_id", "sha", "ref", "status", "source", "created_at", "updated_at",
    "web_url",
}  # fmt: skip


def world() -> dict[str, Any]:
    return {
        "users": [
            user(1, "root", admin=True, tokens=("glpat-root",)),
            user(2, "alice", tokens=("glpat-alice",)),
            user(3, "mona", tokens=("glpat-mona",)),
        ],
        "projects": [
            project(1, "foo/bar", "private", {"alice": 30, "mona": 40}),
            project(2, "foo/downstream", "private"),
        ],
        "pipelines": [pipeline(6, 1), pipeline(50, 2, status="running", ref="main", iid=3)],
        "jobs": [
            job(7, 6, "failed", name="teaspoon", user="root", tag_list=["docker"],
                trace="Running with gitlab-runner\n$ rake teaspoon\n"),
            job(8, 6, "success", name="rubocop", user="alice", coverage=97.5,
                created_at="2015-12-24T16:51:21.880123+01:00",
                started_at="2015-12-24T17:54:30.733Z", finished_at="2015-12-24T17:54:31.198Z",
                trace="rubocop: no offenses\n"),
            job(9, 6, "manual", name="deploy", stage="deploy", when="manual"),
            job(10, 6, "pending", name="trigger", stage="deploy", kind="bridge",
                downstream_pipeline_id=50),
            job(11, 6, "running", name="slow", user="alice", token="running-token"),
            job(12, 6, "pending", name="orphan-trigger", kind="bridge",
                downstream_pipeline_id=999),
            job(13, 6, "success", name="manual-done", when="manual", trace="done\n"),
            job(14, 6, "pending", name="queued"),
            job(15, 6, "success", name="no-trace"),
            job(51, 50, "success", name="elsewhere"),
        ],
    }  # fmt: skip


@pytest.fixture
def api(
    database_url: str,
    seed: Callable[[str, dict[str, Any]], None],
    make_client: Callable[..., TestClient],
) -> TestClient:
    seed(database_url, world())
    return make_client(database_url)


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_job_json_has_the_fields_of_section_9(api: TestClient) -> None:
    body = api.get(f"{P}/jobs/7", headers=ROOT).json()

    assert set(body) >= JOB_FIELDS
    assert "artifacts_file" not in body  # only with a live archive
    assert (body["artifacts"], body["artifacts_expire_at"]) == ([], None)
    assert body["failure_reason"] == "script_failure"
    assert body["web_url"] == f"{EXTERNAL}/foo/bar/-/jobs/7"
    assert (body["name"], body["stage"], body["status"], body["ref"], body["tag"]) == (
        "teaspoon", "test", "failed", "master", False,
    )  # fmt: skip
    assert body["tag_list"] == ["docker"]
    assert body["user"]["username"] == "root"
    assert body["commit"]["id"] == body["pipeline"]["sha"]
    assert set(body["pipeline"]) == PIPELINE_FIELDS
    assert body["pipeline"] == {
        "id": 6,
        "iid": 6,
        "project_id": 1,
        "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
        "ref": "master",
        "status": "success",
        "source": "push",
        "created_at": "2015-12-24T15:50:16.123Z",
        "updated_at": "2015-12-24T18:00:44.432Z",
        "web_url": f"{EXTERNAL}/foo/bar/-/pipelines/6",
    }
    assert body["duration"] == pytest.approx(0.173)


def test_times_are_utc_with_milliseconds_and_z(api: TestClient) -> None:
    body = api.get(f"{P}/jobs/8", headers=ROOT).json()

    # imported as 16:51:21.880123+01:00
    assert body["created_at"] == "2015-12-24T15:51:21.880Z"
    for key in ("created_at", "started_at", "finished_at"):
        assert TIME.match(body[key]), (key, body[key])
    assert body["erased_at"] is None
    assert body["coverage"] == 97.5


@pytest.mark.parametrize("job_id", [8, 9, 11, 13])
def test_failure_reason_only_on_failed_jobs(api: TestClient, job_id: int) -> None:
    body = api.get(f"{P}/jobs/{job_id}", headers=ROOT).json()

    assert body["status"] != "failed"
    assert "failure_reason" not in body


def test_project_jobs_are_listed_newest_first_without_bridges(api: TestClient) -> None:
    assert ids(api.get(f"{P}/jobs", headers=ROOT)) == [15, 14, 13, 11, 9, 8, 7]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("scope=failed", [7]),
        ("scope[]=success&scope[]=manual", [15, 13, 9, 8]),
        ("scope=pending&scope=running", [14, 11]),
        ("scope[]=canceled", []),
    ],
)
def test_scope_filters_project_jobs(api: TestClient, query: str, expected: list[int]) -> None:
    assert ids(api.get(f"{P}/jobs?{query}", headers=ROOT)) == expected


def test_pipeline_jobs_list_the_pipelines_builds(api: TestClient) -> None:
    # Newest first, as GitLab's JobsFinder orders them.
    assert ids(api.get(f"{P}/pipelines/6/jobs", headers=ROOT)) == [15, 14, 13, 11, 9, 8, 7]
    assert ids(api.get(f"{P}/pipelines/6/jobs?scope[]=manual", headers=ROOT)) == [9]


def test_bridges_carry_their_downstream_pipeline(api: TestClient) -> None:
    response = api.get(f"{P}/pipelines/6/bridges", headers=ROOT)

    bridges = {bridge["id"]: bridge for bridge in response.json()}
    assert sorted(bridges) == [10, 12]
    trigger = bridges[10]
    assert set(trigger) >= BASIC_FIELDS
    assert trigger["web_url"] == f"{EXTERNAL}/foo/bar/-/jobs/10"
    assert trigger["downstream_pipeline"] == {
        "id": 50,
        "iid": 3,
        "project_id": 2,
        "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
        "ref": "main",
        "status": "running",
        "source": "push",
        "created_at": "2015-12-24T15:50:16.123Z",
        "updated_at": "2015-12-24T18:00:44.432Z",
        "web_url": f"{EXTERNAL}/foo/downstream/-/pipelines/50",
    }
    assert bridges[12]["downstream_pipeline"] is None  # its pipeline does not exist
    assert ids(api.get(f"{P}/pipelines/6/bridges?scope=pending", headers=ROOT)) == [12, 10]
    assert ids(api.get(f"{P}/pipelines/6/bridges?scope=running", headers=ROOT)) == []


def test_a_bridge_is_not_a_job(api: TestClient) -> None:
    response = api.get(f"{P}/jobs/10", headers=ROOT)

    assert (response.status_code, response.json()) == (404, {"message": "404 Not found"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{P}/jobs/999"),
        ("GET", f"{P}/jobs/999/trace"),
        ("POST", f"{P}/jobs/999/cancel"),
        ("POST", f"{P}/jobs/999/retry"),
        ("POST", f"{P}/jobs/999/erase"),
        ("POST", f"{P}/jobs/999/play"),
        ("GET", f"{P}/jobs/51"),  # a job of another project
        ("GET", f"{P}/pipelines/999/jobs"),
        ("GET", f"{P}/pipelines/999/bridges"),
        ("GET", f"{P}/pipelines/50/jobs"),  # a pipeline of another project
        ("GET", f"{P}/pipelines/999"),
    ],
)
def test_unknown_job_or_pipeline_is_404_not_found(api: TestClient, method: str, path: str) -> None:
    response = api.request(method, path, headers=ROOT)

    assert (response.status_code, response.json()) == (404, {"message": "404 Not found"})


def test_unknown_project_is_404_project_not_found(api: TestClient) -> None:
    for path in ("/api/v4/projects/foo%2Fnope/jobs", "/api/v4/projects/77/jobs/7"):
        response = api.get(path, headers=ROOT)
        assert (response.status_code, response.json()) == (
            404, {"message": "404 Project Not Found"},
        )  # fmt: skip


def test_trace_is_plain_text_named_after_the_job(api: TestClient) -> None:
    response = api.get(f"{P}/jobs/7/trace", headers=ALICE)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == 'infile; filename="7.log"'
    assert response.text == "Running with gitlab-runner\n$ rake teaspoon\n"


def test_trace_of_a_job_without_one_is_empty(api: TestClient) -> None:
    response = api.get(f"{P}/jobs/15/trace", headers=ALICE)

    assert (response.status_code, response.content) == (200, b"")


def test_retry_returns_the_new_job_and_hides_the_old_one(api: TestClient) -> None:
    response = api.post(f"{P}/jobs/7/retry", headers=ALICE)

    assert response.status_code == 201
    new = response.json()
    assert new["id"] not in (7, 8, 9, 10, 11, 12, 13, 14, 15, 51)
    assert (new["name"], new["stage"], new["status"]) == ("teaspoon", "test", "pending")
    assert new["user"]["username"] == "alice"
    assert new["started_at"] is None and new["finished_at"] is None
    assert new["pipeline"]["id"] == 6
    assert TIME.match(new["created_at"])
    assert api.get(f"{P}/jobs/{new['id']}", headers=ALICE).json()["status"] == "pending"
    pipeline_jobs = ids(api.get(f"{P}/pipelines/6/jobs", headers=ALICE))
    assert new["id"] in pipeline_jobs and 7 not in pipeline_jobs
    assert {7, new["id"]} <= set(
        ids(api.get(f"{P}/pipelines/6/jobs?include_retried=true", headers=ALICE))
    )
    assert ids(api.get(f"{P}/jobs?scope=failed", headers=ALICE)) == [7]  # still listed here
    assert api.get(f"{P}/jobs/7", headers=ALICE).json()["status"] == "failed"


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_include_retried_accepts_gitlab_booleans(api: TestClient, flag: str) -> None:
    new_id = api.post(f"{P}/jobs/8/retry", headers=ALICE).json()["id"]

    listed = ids(api.get(f"{P}/pipelines/6/jobs?include_retried={flag}", headers=ALICE))

    assert {8, new_id} <= set(listed)


def test_retry_of_a_running_job_is_forbidden(api: TestClient) -> None:
    response = api.post(f"{P}/jobs/11/retry", headers=MONA)

    assert (response.status_code, response.json()) == (
        403, {"message": "403 Forbidden - Job is not retryable"},
    )  # fmt: skip
    assert api.get(f"{P}/jobs/11", headers=MONA).json()["status"] == "running"


def test_erase_clears_the_trace_and_sets_erased_at(api: TestClient) -> None:
    assert api.get(f"{P}/jobs/7/trace", headers=ROOT).text != ""

    response = api.post(f"{P}/jobs/7/erase", headers=ROOT)

    assert response.status_code == 201
    erased = response.json()
    assert erased["id"] == 7 and TIME.match(erased["erased_at"])
    assert erased["status"] == "failed"
    assert api.get(f"{P}/jobs/7", headers=ROOT).json()["erased_at"] == erased["erased_at"]
    trace = api.get(f"{P}/jobs/7/trace", headers=ROOT)
    assert (trace.status_code, trace.content) == (200, b"")
    again = api.post(f"{P}/jobs/7/erase", headers=ROOT)
    assert (again.status_code, again.json()) == (
        403, {"message": "403 Forbidden - Job is not erasable!"},
    )  # fmt: skip


@pytest.mark.parametrize("job_id", [11, 14, 15])  # running, pending, nothing to erase
def test_erase_of_an_unerasable_job_is_forbidden(api: TestClient, job_id: int) -> None:
    response = api.post(f"{P}/jobs/{job_id}/erase", headers=MONA)

    assert (response.status_code, response.json()) == (
        403, {"message": "403 Forbidden - Job is not erasable!"},
    )  # fmt: skip
    assert api.get(f"{P}/jobs/{job_id}", headers=MONA).json()["erased_at"] is None


def test_developer_erases_own_jobs_only(api: TestClient) -> None:
    others = api.post(f"{P}/jobs/7/erase", headers=ALICE)  # root's job
    own = api.post(f"{P}/jobs/8/erase", headers=ALICE)

    assert (others.status_code, others.json()) == (403, {"message": "403 Forbidden"})
    assert api.get(f"{P}/jobs/7/trace", headers=ALICE).text != ""
    assert own.status_code == 201 and own.json()["erased_at"] is not None


def test_play_turns_a_manual_job_pending(api: TestClient) -> None:
    response = api.post(f"{P}/jobs/9/play", headers=ALICE)

    assert response.status_code == 200
    played = response.json()
    assert (played["id"], played["status"]) == (9, "pending")
    assert played["user"]["username"] == "alice"
    assert api.get(f"{P}/jobs/9", headers=ALICE).json()["status"] == "pending"
    again = api.post(f"{P}/jobs/9/play", headers=ALICE)
    assert (again.status_code, again.json()) == (
        400, {"message": "400 Bad request - Unplayable Job"},
    )  # fmt: skip


@pytest.mark.parametrize("job_id", [7, 8, 11, 14])
def test_play_of_a_job_that_is_not_manual_is_400(api: TestClient, job_id: int) -> None:
    before = api.get(f"{P}/jobs/{job_id}", headers=ALICE).json()["status"]

    response = api.post(f"{P}/jobs/{job_id}/play", headers=ALICE)

    assert (response.status_code, response.json()) == (
        400, {"message": "400 Bad request - Unplayable Job"},
    )  # fmt: skip
    assert api.get(f"{P}/jobs/{job_id}", headers=ALICE).json()["status"] == before


def test_play_of_a_finished_manual_job_runs_it_again(api: TestClient) -> None:
    response = api.post(f"{P}/jobs/13/play", headers=ALICE)

    assert response.status_code == 200
    assert response.json()["id"] != 13
    assert (response.json()["name"], response.json()["status"]) == ("manual-done", "pending")


@pytest.mark.parametrize("job_id", [11, 14])  # running, pending
def test_cancel_of_an_active_job_cancels_it(api: TestClient, job_id: int) -> None:
    response = api.post(f"{P}/jobs/{job_id}/cancel", headers=ALICE)

    assert response.status_code == 201
    assert (response.json()["id"], response.json()["status"]) == (job_id, "canceled")
    assert TIME.match(response.json()["finished_at"])
    assert api.get(f"{P}/jobs/{job_id}", headers=ALICE).json()["status"] == "canceled"


@pytest.mark.parametrize("job_id", [7, 8, 9])  # failed, success, manual
def test_cancel_of_a_finished_job_returns_it_unchanged(api: TestClient, job_id: int) -> None:
    before = api.get(f"{P}/jobs/{job_id}", headers=ALICE).json()

    response = api.post(f"{P}/jobs/{job_id}/cancel", headers=ALICE)

    assert (response.status_code, response.json()) == (201, before)
    assert api.get(f"{P}/jobs/{job_id}", headers=ALICE).json() == before


def test_transitions_accept_an_empty_json_object_body(api: TestClient) -> None:
    headers = {**ALICE, "Content-Type": "application/json"}

    cancel = api.post(f"{P}/jobs/14/cancel", headers=headers, content=b"{}")
    listed = api.request("GET", f"{P}/jobs", headers=headers, content=b"{}")

    assert cancel.status_code == 201 and cancel.json()["status"] == "canceled"
    assert listed.status_code == 200


def test_transitions_persist_in_the_store(
    api: TestClient, database_url: str, make_client: Callable[..., TestClient]
) -> None:
    api.post(f"{P}/jobs/14/cancel", headers=ALICE)
    api.post(f"{P}/jobs/9/play", headers=ALICE)

    fresh = make_client(database_url)  # a second app over the same store

    assert fresh.get(f"{P}/jobs/14", headers=ALICE).json()["status"] == "canceled"
    assert fresh.get(f"{P}/jobs/9", headers=ALICE).json()["status"] == "pending"


def test_project_json(api: TestClient) -> None:
    body = api.get(P, headers=ALICE).json()

    assert {k: body[k] for k in ("id", "name", "path", "path_with_namespace", "visibility")} == {
        "id": 1, "name": "bar", "path": "bar", "path_with_namespace": "foo/bar",
        "visibility": "private",
    }  # fmt: skip
    assert body["web_url"] == f"{EXTERNAL}/foo/bar"
    assert api.get("/api/v4/projects/1", headers=ALICE).json() == body
    assert api.get("/api/v4/projects/FOO%2FBAR", headers=ALICE).json()["id"] == 1


def test_pipelines_list_and_get(api: TestClient) -> None:
    listed = api.get(f"{P}/pipelines", headers=ALICE)
    single = api.get(f"{P}/pipelines/6", headers=ALICE).json()

    assert ids(listed) == [6]
    assert (single["id"], single["ref"], single["status"]) == (6, "master", "success")
    assert single["web_url"] == f"{EXTERNAL}/foo/bar/-/pipelines/6"


def test_user_is_the_caller(api: TestClient) -> None:
    body = api.get("/api/v4/user", headers=ALICE).json()

    assert (body["id"], body["username"], body["state"]) == (2, "alice", "active")
    assert body["web_url"] == f"{EXTERNAL}/alice"


def test_artifacts_show_only_while_live_and_erase_removes_them(
    database_url: str, tmp_path: Path
) -> None:
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.writestr("dist/app.js", "console.log(1)\n")
    document = {
        "users": [user(1, "root", admin=True, tokens=("glpat-root",))],
        "projects": [project(1, "foo/bar")],
        # two successful pipelines on one ref: only the newer one's artifacts are locked
        "pipelines": [pipeline(1, 1), pipeline(2, 1)],
        "jobs": [
            job(1, 1, "success", artifacts=[{"path": "a.zip", "expire_at": "2001-01-01T00:00Z"}]),
            job(2, 2, "success", artifacts=[{"path": "a.zip", "expire_at": "2099-01-01T00:00Z"}]),
        ],
    }
    (tmp_path / "import.json").write_text(json.dumps(document))
    env = {
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
    }
    imported = run_artifactsvc("import", "import.json", env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr

    with app_client(app_settings(database_url, tmp_path / "objects")) as client:
        expired = client.get(f"{P}/jobs/1", headers=ROOT).json()
        live = client.get(f"{P}/jobs/2", headers=ROOT).json()
        erased = client.post(f"{P}/jobs/2/erase", headers=ROOT)
        after = client.get(f"{P}/jobs/2", headers=ROOT).json()
        download = client.get(f"{P}/jobs/2/artifacts", headers=ROOT)

    assert "artifacts_file" not in expired
    assert (expired["artifacts"], expired["artifacts_expire_at"]) == ([], None)
    size = (tmp_path / "a.zip").stat().st_size
    assert live["artifacts_file"] == {"filename": "artifacts.zip", "size": size}
    assert live["artifacts"] == [
        {"file_type": "archive", "size": size, "filename": "artifacts.zip", "file_format": "zip"}
    ]
    assert live["artifacts_expire_at"] == "2099-01-01T00:00:00.000Z"
    assert erased.status_code == 201
    assert "artifacts_file" not in after and after["artifacts"] == []
    assert after["erased_at"] is not None
    assert download.status_code == 404
