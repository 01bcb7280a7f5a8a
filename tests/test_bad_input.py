"""Bad input gets a clear 4xx in GitLab's shape, never a traceback or a 500 (CONTRACT 5, 6, 10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.support.apps import app_client, app_settings, import_document
from tests.support.documents import job, pipeline, project, user

ROOT = {"PRIVATE-TOKEN": "glpat-root"}
P = "/api/v4/projects/foo%2Fbar"
BAD_SCOPE = {"error": "scope does not have a valid value"}
NOT_FOUND = {"message": "404 Not found"}
PROJECT_NOT_FOUND = {"message": "404 Project Not Found"}
NO_ROUTE = {"error": "404 Not Found"}


def stable(job_json: dict[str, object]) -> dict[str, object]:
    """A job's JSON without the fields that grow with the clock while it is active."""
    return {k: v for k, v in job_json.items() if k not in ("duration", "queued_duration")}


@pytest.fixture(scope="module")
def api(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("bad-input")
    document = {
        "users": [user(1, "root", admin=True, tokens=("glpat-root",))],
        "projects": [project(1, "foo/bar")],
        "pipelines": [pipeline(6, 1)],
        "jobs": [job(7, 6, "failed", trace="log\n"), job(8, 6, "running"), job(9, 6, "manual")],
    }
    import_document(module_database_url, document, directory)
    with app_client(app_settings(module_database_url, directory / "objects")) as client:
        yield client


@pytest.mark.parametrize(
    "path",
    [
        f"{P}/jobs?scope=bogus",
        f"{P}/jobs?scope[]=success&scope[]=bogus",
        f"{P}/jobs?scope=SUCCESS",
        f"{P}/jobs?scope=",
        f"{P}/jobs?pagination=keyset&scope[]=nope",
        f"{P}/pipelines/6/jobs?scope[]=bogus",
        f"{P}/pipelines/6/bridges?scope=bogus",
    ],
)
def test_unknown_scope_is_400(api: TestClient, path: str) -> None:
    response = api.get(path, headers=ROOT)

    assert (response.status_code, response.json()) == (400, BAD_SCOPE)


@pytest.mark.parametrize("job_id", ["abc", "-1", "1.5", "1e3", "0x10", "%E2%91%A0", "7%20"])
@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("GET", "/trace"), ("POST", "/retry")])
def test_non_numeric_job_id_is_400(api: TestClient, job_id: str, method: str, suffix: str) -> None:
    response = api.request(method, f"{P}/jobs/{job_id}{suffix}", headers=ROOT)

    assert (response.status_code, response.json()) == (400, {"error": "job_id is invalid"})


@pytest.mark.parametrize("pipeline_id", ["abc", "-6", "6.0"])
@pytest.mark.parametrize("suffix", ["", "/jobs", "/bridges"])
def test_non_numeric_pipeline_id_is_400(api: TestClient, pipeline_id: str, suffix: str) -> None:
    response = api.get(f"{P}/pipelines/{pipeline_id}{suffix}", headers=ROOT)

    assert (response.status_code, response.json()) == (400, {"error": "pipeline_id is invalid"})


@pytest.mark.parametrize(
    "number", ["99999999999999999999999", "9223372036854775807", "9223372036854775808", "0"]
)
def test_huge_or_zero_ids_are_404(api: TestClient, number: str) -> None:
    responses = {
        "job": api.get(f"{P}/jobs/{number}", headers=ROOT),
        "trace": api.get(f"{P}/jobs/{number}/trace", headers=ROOT),
        "cancel": api.post(f"{P}/jobs/{number}/cancel", headers=ROOT),
        "pipeline": api.get(f"{P}/pipelines/{number}", headers=ROOT),
        "pipeline jobs": api.get(f"{P}/pipelines/{number}/jobs", headers=ROOT),
        "project": api.get(f"/api/v4/projects/{number}/jobs", headers=ROOT),
    }

    statuses = {name: (r.status_code, r.json()) for name, r in responses.items()}
    assert statuses == {
        "job": (404, NOT_FOUND),
        "trace": (404, NOT_FOUND),
        "cancel": (404, NOT_FOUND),
        "pipeline": (404, NOT_FOUND),
        "pipeline jobs": (404, NOT_FOUND),
        "project": (404, PROJECT_NOT_FOUND),
    }


@pytest.mark.parametrize(
    "ref", ["foo%00bar", "%ff", "%C0%AF", "foo%2Fbar%ff", "foo%2", "%", "-1", "foo%2F..%2Fbar"]
)
def test_project_refs_that_name_nothing_are_404(api: TestClient, ref: str) -> None:
    for path in (f"/api/v4/projects/{ref}", f"/api/v4/projects/{ref}/jobs"):
        response = api.get(path, headers=ROOT)
        assert (response.status_code, response.json()) == (404, PROJECT_NOT_FOUND), path


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=1.5", "page"),
        ("page=--5", "page"),
        ("page=%2B5", "page"),
        ("page=%EF%BC%95", "page"),  # a fullwidth digit
        ("per_page=0", "per_page"),
        ("per_page=-5", "per_page"),
        ("per_page=ten", "per_page"),
        ("per_page=--1", "per_page"),
        ("pagination=keyset&per_page=0", "per_page"),
        ("pagination=keyset&per_page=--2", "per_page"),
    ],
)
@pytest.mark.parametrize(
    "listing", ["/jobs", "/pipelines/6/jobs", "/pipelines/6/bridges", "/pipelines"]
)
def test_bad_page_parameters_are_400(api: TestClient, query: str, field: str, listing: str) -> None:
    response = api.get(f"{P}{listing}?{query}", headers=ROOT)

    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["error"] and body["error"].startswith(f"{field} ")


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("order_by=name", "order_by does not have a valid value"),
        ("sort=asc", "sort does not have a valid value"),
        ("cursor=not-a-cursor", "cursor is invalid"),
        ("cursor=WzFd", "cursor is invalid"),  # base64 of [1]
        ("cursor=eyJpZCI6IG51bGx9", "cursor is invalid"),  # {"id": null}
        ("cursor=eyJpZCI6ICIwIn0", "cursor is invalid"),  # {"id": "0"}
        ("cursor=eyJpZCI6ICI5OTk5OTk5OTk5OTk5OTk5OTk5OTk5In0", "cursor is invalid"),  # huge id
    ],
)
def test_bad_keyset_parameters_are_400(api: TestClient, query: str, error: str) -> None:
    response = api.get(f"{P}/jobs?pagination=keyset&{query}", headers=ROOT)

    assert (response.status_code, response.json()) == (400, {"error": error})


def test_bad_boolean_is_400(api: TestClient) -> None:
    response = api.get(f"{P}/pipelines/6/jobs?include_retried=maybe", headers=ROOT)

    assert (response.status_code, response.json()) == (400, {"error": "include_retried is invalid"})


@pytest.mark.parametrize(
    "body",
    [b"{bad", b"[]", b'"text"', b"null", b"42", b'{"a": 1', b"\xff\xfe{}"],
    ids=["broken", "array", "string", "null", "number", "truncated", "not-utf8"],
)
@pytest.mark.parametrize("action", ["cancel", "retry", "erase", "play"])
def test_malformed_json_body_is_400_and_changes_nothing(
    api: TestClient, body: bytes, action: str
) -> None:
    target = {"cancel": 8, "retry": 7, "erase": 7, "play": 9}[action]
    before = stable(api.get(f"{P}/jobs/{target}", headers=ROOT).json())

    response = api.post(
        f"{P}/jobs/{target}/{action}",
        headers={**ROOT, "Content-Type": "application/json"},
        content=body,
    )

    assert (response.status_code, response.json()) == (400, {"message": "400 Bad request"})
    assert stable(api.get(f"{P}/jobs/{target}", headers=ROOT).json()) == before


def test_oversized_json_body_is_413(api: TestClient) -> None:
    body = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'

    response = api.post(
        f"{P}/jobs/8/cancel", headers={**ROOT, "Content-Type": "application/json"}, content=body
    )

    assert response.status_code == 413
    assert api.get(f"{P}/jobs/8", headers=ROOT).json()["status"] == "running"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v4/nope",
        "/nope",
        "/",
        "/api/v3/projects/1/jobs",
        f"{P}/jobs/7/nope",
        f"{P}/jobs/",
        f"{P}/pipelines/6/jobs/7",
        "/api/v4/projects/foo/bar/jobs",  # an unencoded path is not a project id
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_routes_are_404_not_found(api: TestClient, path: str, method: str) -> None:
    response = api.request(method, path, headers=ROOT)

    assert (response.status_code, response.json()) == (404, NO_ROUTE)


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", f"{P}/jobs/7"), ("POST", f"{P}/jobs"), ("GET", f"{P}/jobs/7/cancel")],
)
def test_wrong_method_on_a_known_route_is_405(api: TestClient, method: str, path: str) -> None:
    response = api.request(method, path, headers=ROOT)

    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/json")
