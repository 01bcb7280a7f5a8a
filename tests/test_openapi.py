"""GET /openapi.json is the API as served: a valid OpenAPI 3.1 document, every route declared,
every query parameter a handler reads declared, and every body the handlers render described
by its schema (no key the schema does not name). schemathesis then checks the statuses and
bodies against it under fuzzing (tests/fuzz/test_api.py)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection
from starlette.testclient import TestClient

from artifactsvc.api.routing import RawRoute
from tests.fuzz import world
from tests.support.apps import app_client, app_settings, import_document
from tests.support.wire import MULTIPART, multipart
from tests.support.zips import make_zip

ROOT = {"PRIVATE-TOKEN": world.ROOT_TOKEN}
RUNNER = {"JOB-TOKEN": world.JOB_TOKEN}
# What each path parameter is filled with: rows and names that exist in the fuzz world.
VALUES = {
    "id": "1",
    "job_id": "100",
    "pipeline_id": "10",
    "artifact_path": "README.md",
    "ref_name": "master",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("openapi")
    settings = app_settings(f"sqlite:///{directory}/meta.db", directory / "objects")
    world.write(directory)
    import_document(settings, world.document(), directory)
    with app_client(settings) as client:
        yield client


@pytest.fixture(scope="module")
def doc(api: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = api.get("/openapi.json").json()
    return found


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


# State changes go to the private project, whose rows the other tests here do not read.
CHANGED = {**VALUES, "id": "2", "job_id": "200", "pipeline_id": "20"}


def concrete(path: str, *, runner: bool, changes: bool = False) -> str:
    values = {**VALUES, "id": str(world.RUNNING_JOB)} if runner else CHANGED if changes else VALUES
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)
    assert doc["openapi"] == "3.1.0"


def test_every_route_declares_its_operations(api: TestClient, doc: dict[str, Any]) -> None:
    app = api.app
    assert isinstance(app, Starlette)
    undeclared = [
        item.pattern for item in app.routes if isinstance(item, RawRoute) and not item.spec
    ]
    assert undeclared == []
    for path, method, operation in operations(doc):
        assert "security" in operation, (method, path)
        assert all(int(status) < 500 or status == "503" for status in operation["responses"])
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)


def test_ids_are_integers_and_project_ids_integer_or_path(doc: dict[str, Any]) -> None:
    by_name: dict[str, list[dict[str, Any]]] = {}
    for _, _, operation in operations(doc):
        for param in operation["parameters"]:
            if param["in"] == "path":
                by_name.setdefault(param["name"], []).append(param["schema"])
    assert all(s["type"] == "integer" for s in by_name["job_id"] + by_name["pipeline_id"])
    assert {b["type"] for s in by_name["id"] if "anyOf" in s for b in s["anyOf"]} == {
        "integer",
        "string",
    }


class RecordingQuery(QueryParams):
    """QueryParams that remember every name a handler asks for."""

    asked: set[str] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        RecordingQuery.asked.add(str(key))
        return super().get(key, default)

    def getlist(self, key: Any) -> list[Any]:
        RecordingQuery.asked.add(str(key))
        return super().getlist(key)

    def __getitem__(self, key: Any) -> Any:
        RecordingQuery.asked.add(str(key))
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        RecordingQuery.asked.add(str(key))
        return super().__contains__(key)


@contextlib.contextmanager
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    RecordingQuery.asked = set()
    monkeypatch.setattr(
        HTTPConnection,
        "query_params",
        property(lambda self: RecordingQuery(self.scope["query_string"])),
    )
    yield RecordingQuery.asked
    monkeypatch.undo()


def call(api: TestClient, path: str, method: str) -> int:
    """One request that reaches the handler's parameter parsing (valid ids and tokens)."""
    runner = path.startswith("/api/v4/jobs/")
    url = concrete(path, runner=runner, changes=method in ("POST", "DELETE"))
    headers = RUNNER if runner else ROOT
    params = {"job": "build"} if "/jobs/artifacts/" in path else {}
    if method == "POST" and path.endswith("/jobs/{id}/artifacts"):
        body = multipart(make_zip(world.MEMBERS))
        response = api.post(url, headers={**headers, "Content-Type": MULTIPART}, content=body)
    elif method == "PUT":
        response = api.put(url, headers=headers, json={"state": "running"})
    elif method == "PATCH":
        response = api.patch(url, headers={**headers, "Content-Range": "0-2"}, content=b"ab")
    else:
        response = api.request(method, url, headers=headers, params=params)
    return response.status_code


def test_every_query_parameter_a_handler_reads_is_declared(
    api: TestClient, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    schemes = doc["components"]["securitySchemes"]
    missing: dict[str, set[str]] = {}
    for path, method, operation in operations(doc):
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        for requirement in operation["security"]:
            for scheme in requirement:
                if schemes[scheme].get("in") == "query":
                    declared.add(schemes[scheme]["name"])
        # Read by the credentials parser on every route, ignored where the route does not
        # take job tokens (GitLab ignores it there too).
        declared.add("job_token")
        with recording(monkeypatch) as asked:
            status = call(api, path, method)
        assert status < 500, (method, path, status)
        if asked - declared:
            missing[f"{method} {path}"] = asked - declared
    assert missing == {}


def test_keyset_and_filter_parameters_are_read_where_declared(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with recording(monkeypatch) as asked:
        api.get("/api/v4/projects/1/jobs", params={"pagination": "keyset"}, headers=ROOT)
    assert {"pagination", "order_by", "sort", "cursor", "per_page"} <= asked


# -- bodies against their schemas -------------------------------------------------------------


def resolved(schema: Any, doc: dict[str, Any]) -> Any:
    """The schema with every local $ref replaced by what it names."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return resolved(doc["components"]["schemas"][name], doc)
        return {key: resolved(value, doc) for key, value in schema.items()}
    if isinstance(schema, list):
        return [resolved(item, doc) for item in schema]
    return schema


def undeclared_keys(body: Any, schema: dict[str, Any], where: str = "") -> list[str]:
    """Keys of `body` (recursively) that `schema` does not name."""
    if "anyOf" in schema:
        for branch in schema["anyOf"]:
            if jsonschema.Draft202012Validator(branch).is_valid(body):
                return undeclared_keys(body, branch, where)
        return []
    if isinstance(body, dict) and "properties" in schema:
        found = [f"{where}.{key}" for key in body if key not in schema["properties"]]
        for key, value in body.items():
            if key in schema["properties"]:
                found += undeclared_keys(value, schema["properties"][key], f"{where}.{key}")
        return found
    if isinstance(body, list) and "items" in schema:
        return [key for item in body for key in undeclared_keys(item, schema["items"], where)]
    return []


BODIES = [
    ("/api/v4/projects/{id}/jobs", {}),
    ("/api/v4/projects/{id}/jobs/{job_id}", {"job_id": "101"}),
    ("/api/v4/projects/{id}/jobs/{job_id}", {"job_id": "100"}),
    ("/api/v4/projects/{id}/pipelines/{pipeline_id}/jobs", {}),
    ("/api/v4/projects/{id}/pipelines/{pipeline_id}/bridges", {}),
    ("/api/v4/projects/{id}/pipelines", {}),
    ("/api/v4/projects/{id}/pipelines/{pipeline_id}", {}),
    ("/api/v4/projects/{id}/pipelines/latest", {}),
    ("/api/v4/projects/{id}", {}),
    ("/api/v4/user", {}),
    ("/api/v4/version", {}),
    ("/api/v4/projects/{id}/jobs/{job_id}/artifacts_tree", {}),
    ("/api/v4/projects/{id}/jobs/{job_id}/artifacts/tree", {}),
    ("/-/readiness", {}),
    ("/-/liveness", {}),
]


@pytest.mark.parametrize(("path", "values"), BODIES)
def test_a_rendered_body_matches_its_schema_and_declares_every_key(
    api: TestClient, doc: dict[str, Any], path: str, values: dict[str, str]
) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: {**VALUES, **values}[m.group(1)], path)
    response = api.get(url, params={"recursive": "true"}, headers=ROOT)
    assert response.status_code == 200, response.text
    schema = resolved(
        doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
        doc,
    )
    body = response.json()
    jsonschema.Draft202012Validator(schema).validate(body)
    assert undeclared_keys(body, schema) == []


def test_upload_and_runner_answers_match_their_schemas(
    api: TestClient, doc: dict[str, Any], tmp_path: Path
) -> None:
    job = f"/api/v4/jobs/{world.RUNNING_JOB}"
    uploaded = api.post(
        f"{job}/artifacts",
        headers={**RUNNER, "Content-Type": MULTIPART},
        content=multipart(make_zip(world.MEMBERS), after={"artifact_type": "archive"}),
    )
    state = api.put(job, headers=RUNNER, json={"state": "running"})
    for response, path, method, status in (
        (uploaded, "/api/v4/jobs/{id}/artifacts", "post", "201"),
        (state, "/api/v4/jobs/{id}", "put", "200"),
    ):
        assert str(response.status_code) == status, response.text
        media = doc["paths"][path][method]["responses"][status]["content"]["application/json"]
        schema = resolved(media["schema"], doc)
        jsonschema.Draft202012Validator(schema).validate(response.json())
        assert undeclared_keys(response.json(), schema) == []


# -- what the router says of a path ----------------------------------------------------------


def template_matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\\\{(\w+)\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path) is not None


def test_a_405_names_every_method_the_document_gives_its_path(
    api: TestClient, doc: dict[str, Any]
) -> None:
    wrong = {}
    for path in doc["paths"]:
        url = concrete(path, runner=path.startswith("/api/v4/jobs/"))
        documented = {
            method.upper()
            for template, methods in doc["paths"].items()
            if template_matches(template, url)
            for method in methods
        }
        response = api.request("OPTIONS", url, headers=ROOT)
        assert response.status_code == 405, url
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        if allowed != documented:
            wrong[url] = (sorted(allowed), sorted(documented))
    assert wrong == {}
