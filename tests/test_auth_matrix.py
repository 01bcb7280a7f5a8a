"""Who may do what (CONTRACT section 4) on every Jobs API endpoint of section 6.

The expected status of each caller x visibility x endpoint is written out by hand in
EXPECTED below, from the rules of section 4; nothing here asks the code under test what
it should answer. Every transition has its own target job per caller and project, so the
matrix runs against one seeded store per database without the cases disturbing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.apps import app_client, app_settings, import_document
from tests.support.documents import job, pipeline, project, user

OK = "ok"  # the endpoint's own success status
VISIBILITIES = ("public", "internal", "private")
PROJECT_IDS = {"public": 1, "internal": 2, "private": 3}
OTHER_PROJECT, TRUSTED_PROJECT = 4, 5

USER_TOKENS = {
    "guest": "tok-guest",
    "reporter": "tok-reporter",
    "developer": "tok-developer",
    "maintainer": "tok-maintainer",
    "outsider": "tok-outsider",
    "admin": "tok-admin",
    "blocked": "tok-blocked",
}
LEVELS = {"guest": 10, "reporter": 20, "developer": 30, "maintainer": 40, "blocked": 40}

CALLERS = (
    "anonymous",
    "wrong_token",
    "blocked",
    "guest",
    "reporter",
    "developer",
    "maintainer",
    "admin",
    "outsider",
    "job_token_header",
    "job_token_query",
    "job_token_allowlisted",
    "job_token_other",
    "finished_job_token",
)

# Expected status per caller and endpoint class, for (public, internal, private) projects.
#   see:         GET /projects/:id
#   list:        jobs, pipeline jobs (routes that accept a CI job token, as in GitLab)
#   read:        bridges, job, trace (routes that ignore a CI job token)
#   develop:     cancel, retry, play
#   erase_own:   erase a job the caller started
#   erase_other: erase a job someone else started
# A job token counts only on the `list` routes; everywhere else GitLab ignores it and the
# caller is anonymous. It acts as its job's user (here: `developer`, a member of the three
# matrix projects) and never more.
ALL_401 = (401, 401, 401)
ALL_403 = (403, 403, 403)
ALL_OK = (OK, OK, OK)
AS_ANONYMOUS = {
    "see": (OK, 404, 404),
    "read": ALL_401,
    "develop": ALL_401,
    "erase_own": ALL_401,
    "erase_other": ALL_401,
}
SCOPE_403 = "scope-403"  # GitLab's explicit refusal of a job token outside its allowlist
EXPECTED: dict[str, dict[str, tuple[Any, Any, Any]]] = {
    # no credentials: public projects are visible, but jobs* need authentication
    "anonymous": {**AS_ANONYMOUS, "list": ALL_401},
    # an unknown token or a blocked user's token: 401 everywhere
    "wrong_token": dict.fromkeys(
        ("see", "list", "read", "develop", "erase_own", "erase_other"), ALL_401
    ),
    "blocked": dict.fromkeys(
        ("see", "list", "read", "develop", "erase_own", "erase_other"), ALL_401
    ),
    # a finished job's token is unknown where a job token counts, and ignored elsewhere
    "finished_job_token": {**AS_ANONYMOUS, "list": ALL_401},
    # members: guests read jobs under "public pipelines" (on by default); reporters read;
    # developers act and erase their own jobs; maintainers (and admins) erase any job
    "guest": {
        "see": ALL_OK,
        "list": ALL_OK,
        "read": ALL_OK,
        "develop": ALL_403,
        "erase_own": ALL_403,
        "erase_other": ALL_403,
    },
    "reporter": {
        "see": ALL_OK,
        "list": ALL_OK,
        "read": ALL_OK,
        "develop": ALL_403,
        "erase_own": ALL_403,
        "erase_other": ALL_403,
    },
    "developer": {
        "see": ALL_OK,
        "list": ALL_OK,
        "read": ALL_OK,
        "develop": ALL_OK,
        "erase_own": ALL_OK,
        "erase_other": ALL_403,
    },
    "maintainer": dict.fromkeys(
        ("see", "list", "read", "develop", "erase_own", "erase_other"), ALL_OK
    ),
    "admin": dict.fromkeys(("see", "list", "read", "develop", "erase_own", "erase_other"), ALL_OK),
    # an authenticated non-member: reads public and internal projects, cannot see private ones
    "outsider": {
        "see": (OK, OK, 404),
        "list": (OK, OK, 404),
        "read": (OK, OK, 404),
        "develop": (403, 403, 404),
        "erase_own": (403, 403, 404),
        "erase_other": (403, 403, 404),
    },
    # a running job's token of the project itself, or of an allowlisted one: its user lists
    "job_token_header": {**AS_ANONYMOUS, "list": ALL_OK},
    "job_token_query": {**AS_ANONYMOUS, "list": ALL_OK},
    "job_token_allowlisted": {**AS_ANONYMOUS, "list": ALL_OK},
    # ... and a project that does not allowlist its project refuses it, unless its pipelines
    # are public anyway (public and internal projects under "public pipelines")
    "job_token_other": {**AS_ANONYMOUS, "list": (OK, OK, SCOPE_403)},
}

# Pipelines are not under /projects/:id/jobs*; as in GitLab, a public project's pipelines
# are readable without credentials (and a job token is ignored there). Everyone else reads
# them exactly as jobs.
for _caller, _row in EXPECTED.items():
    _row["read_pipelines"] = (
        (OK, 404, 404)
        if _row is EXPECTED["anonymous"] or _caller.startswith(("job_token", "finished_job"))
        else _row["read"]
    )

# GET /user and GET /version do not depend on a project: (user, version).
USER_LEVEL: dict[str, tuple[int, int]] = {
    "anonymous": (401, 200),
    "wrong_token": (401, 401),
    "blocked": (401, 401),
    "finished_job_token": (401, 200),
    "guest": (200, 200),
    "reporter": (200, 200),
    "developer": (200, 200),
    "maintainer": (200, 200),
    "admin": (200, 200),
    "outsider": (200, 200),
    # a job token is ignored on both: the caller is anonymous
    "job_token_header": (401, 200),
    "job_token_query": (401, 200),
    "job_token_allowlisted": (401, 200),
    "job_token_other": (401, 200),
}

ERROR_BODIES: dict[Any, dict[str, str]] = {
    401: {"message": "401 Unauthorized"},
    403: {"message": "403 Forbidden"},
    404: {"message": "404 Project Not Found"},
    SCOPE_403: {
        "message": "403 Forbidden - Authentication by CI/CD job token not allowed from"
        " secret to private."
    },
}
STATUS = {SCOPE_403: 403}


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str  # a column of EXPECTED
    method: str
    path: str  # {p}: project path (encoded), {pl}: pipeline id, {job}: target job id
    success: int
    target: int | None = None  # which per-caller job (offset), for transitions


ENDPOINTS = (
    Endpoint("project", "see", "GET", "/api/v4/projects/{p}", 200),
    Endpoint("pipelines", "read_pipelines", "GET", "/api/v4/projects/{p}/pipelines", 200),
    Endpoint("pipeline", "read_pipelines", "GET", "/api/v4/projects/{p}/pipelines/{pl}", 200),
    Endpoint("jobs", "list", "GET", "/api/v4/projects/{p}/jobs", 200),
    Endpoint("pipeline_jobs", "list", "GET", "/api/v4/projects/{p}/pipelines/{pl}/jobs", 200),
    Endpoint("bridges", "read", "GET", "/api/v4/projects/{p}/pipelines/{pl}/bridges", 200),
    Endpoint("job", "read", "GET", "/api/v4/projects/{p}/jobs/{job}", 200),
    Endpoint("trace", "read", "GET", "/api/v4/projects/{p}/jobs/{job}/trace", 200),
    Endpoint("cancel", "develop", "POST", "/api/v4/projects/{p}/jobs/{job}/cancel", 201, 0),
    Endpoint("retry", "develop", "POST", "/api/v4/projects/{p}/jobs/{job}/retry", 201, 1),
    Endpoint("play", "develop", "POST", "/api/v4/projects/{p}/jobs/{job}/play", 200, 2),
    Endpoint("erase_own", "erase_own", "POST", "/api/v4/projects/{p}/jobs/{job}/erase", 201, 3),
    Endpoint("erase_other", "erase_other", "POST", "/api/v4/projects/{p}/jobs/{job}/erase", 201, 4),
)


def base(project_id: int) -> int:
    return 1000 * project_id


def read_job(project_id: int) -> int:
    return base(project_id) + 1


def target_job(project_id: int, caller: str, offset: int) -> int:
    return base(project_id) + 100 + 10 * CALLERS.index(caller) + offset


def running_token(project_id: int) -> str:
    return f"jt-running-{project_id}"


def world() -> dict[str, Any]:
    users = [
        user(1, "admin", admin=True, tokens=(USER_TOKENS["admin"],)),
        *(
            user(n, name, tokens=(USER_TOKENS[name],))
            for n, name in enumerate(("guest", "reporter", "developer", "maintainer"), 2)
        ),
        user(6, "outsider", tokens=(USER_TOKENS["outsider"],)),
        user(7, "blocked", tokens=(USER_TOKENS["blocked"],), state="blocked"),
        user(8, "bystander"),
    ]
    projects = [
        project(
            PROJECT_IDS[visibility],
            f"matrix/{visibility}",
            visibility,
            LEVELS,
            ci_job_token_allowlist=[TRUSTED_PROJECT],
        )
        for visibility in VISIBILITIES
    ]
    projects += [
        project(OTHER_PROJECT, "other/secret", "private"),
        project(TRUSTED_PROJECT, "other/trusted", "private"),
    ]
    pipelines = [pipeline(10 * pid, pid) for pid in (1, 2, 3, OTHER_PROJECT, TRUSTED_PROJECT)]
    jobs = []
    for pid in PROJECT_IDS.values():
        pl = 10 * pid
        jobs += [
            job(read_job(pid), pl, "success", user="bystander", trace="log line\n"),
            job(base(pid) + 2, pl, "running", token=running_token(pid), user="developer"),
            job(base(pid) + 3, pl, "success", token=f"jt-finished-{pid}"),
            job(base(pid) + 4, pl, "pending", kind="bridge", downstream_pipeline_id=pl),
        ]
        for caller in CALLERS:
            owner = caller if caller in USER_TOKENS else "bystander"
            jobs += [
                job(target_job(pid, caller, 0), pl, "running"),
                job(target_job(pid, caller, 1), pl, "failed"),
                job(target_job(pid, caller, 2), pl, "manual", when="manual"),
                job(target_job(pid, caller, 3), pl, "success", user=owner, trace="mine\n"),
                job(target_job(pid, caller, 4), pl, "success", user="bystander", trace="x\n"),
            ]
    jobs += [
        job(
            base(OTHER_PROJECT) + 2,
            10 * OTHER_PROJECT,
            "running",
            token="jt-running-other",
            user="developer",
        ),
        job(
            base(TRUSTED_PROJECT) + 2,
            10 * TRUSTED_PROJECT,
            "running",
            token="jt-trusted",
            user="developer",
        ),
    ]
    return {"users": users, "projects": projects, "pipelines": pipelines, "jobs": jobs}


def credentials(caller: str, project_id: int) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, query) a caller sends to a project's endpoints."""
    if caller == "anonymous":
        return {}, {}
    if caller == "wrong_token":
        return {"PRIVATE-TOKEN": "glpat-not-a-known-token"}, {}
    if caller in USER_TOKENS:
        return {"PRIVATE-TOKEN": USER_TOKENS[caller]}, {}
    if caller == "job_token_header":
        return {"JOB-TOKEN": running_token(project_id)}, {}
    if caller == "job_token_query":
        return {}, {"job_token": running_token(project_id)}
    if caller == "job_token_allowlisted":
        return {"JOB-TOKEN": "jt-trusted"}, {}
    if caller == "job_token_other":
        return {"JOB-TOKEN": "jt-running-other"}, {}
    assert caller == "finished_job_token"
    return {"JOB-TOKEN": f"jt-finished-{project_id}"}, {}


@pytest.fixture(scope="module")
def client(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    directory: Path = tmp_path_factory.mktemp("matrix")
    import_document(module_database_url, world(), directory)
    with app_client(app_settings(module_database_url, directory / "objects")) as built:
        yield built


def _case_ids() -> list[Any]:
    return [
        pytest.param(endpoint, caller, visibility, id=f"{endpoint.name}-{caller}-{visibility}")
        for endpoint in ENDPOINTS
        for caller in CALLERS
        for visibility in VISIBILITIES
    ]


@pytest.mark.parametrize(("endpoint", "caller", "visibility"), _case_ids())
def test_project_endpoint_status_follows_section_4(
    client: TestClient, endpoint: Endpoint, caller: str, visibility: str
) -> None:
    project_id = PROJECT_IDS[visibility]
    job_id = (
        read_job(project_id)
        if endpoint.target is None
        else target_job(project_id, caller, endpoint.target)
    )
    path = endpoint.path.format(p=f"matrix%2F{visibility}", pl=10 * project_id, job=job_id)
    headers, query = credentials(caller, project_id)
    column = VISIBILITIES.index(visibility)
    expected = EXPECTED[caller][endpoint.kind][column]

    response = client.request(endpoint.method, path, headers=headers, params=query)

    if expected != OK:
        status = STATUS.get(expected, expected)
        assert (response.status_code, response.json()) == (status, ERROR_BODIES[expected])
        return
    assert response.status_code == endpoint.success, response.text
    if endpoint.name == "trace":
        assert response.text == "log line\n"
        return
    body = response.json()
    if endpoint.name in ("pipelines", "jobs", "pipeline_jobs", "bridges"):
        assert isinstance(body, list) and body
    elif endpoint.name == "project":
        assert body["path_with_namespace"] == f"matrix/{visibility}"
    elif endpoint.name == "pipeline":
        assert body["id"] == 10 * project_id
    elif endpoint.name == "job":
        assert body["id"] == job_id
    elif endpoint.name == "cancel":
        assert (body["id"], body["status"]) == (job_id, "canceled")
    elif endpoint.name == "retry":
        assert body["id"] != job_id and body["status"] == "pending"
    elif endpoint.name == "play":
        assert (body["id"], body["status"]) == (job_id, "pending")
    else:
        assert body["id"] == job_id and body["erased_at"] is not None


@pytest.mark.parametrize("caller", CALLERS)
def test_user_and_version_status_by_caller(client: TestClient, caller: str) -> None:
    headers, query = credentials(caller, PROJECT_IDS["public"])
    expected_user, expected_version = USER_LEVEL[caller]

    me = client.get("/api/v4/user", headers=headers, params=query)
    version = client.get("/api/v4/version", headers=headers, params=query)

    assert me.status_code == expected_user, me.text
    if expected_user == 200:
        assert me.json()["username"] == caller
    else:
        assert me.json() == ERROR_BODIES[expected_user]
    assert version.status_code == expected_version, version.text
    if expected_version == 200:
        assert set(version.json()) >= {"version", "revision"}
    else:
        assert version.json() == ERROR_BODIES[expected_version]


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        pytest.param({"PRIVATE-TOKEN": "tok-reporter"}, {}, id="private-token-header"),
        pytest.param({}, {"private_token": "tok-reporter"}, id="private_token-query"),
        pytest.param({"Authorization": "Bearer tok-reporter"}, {}, id="authorization-bearer"),
        pytest.param({"Authorization": "bearer tok-reporter"}, {}, id="bearer-lowercase"),
    ],
)
def test_user_token_works_in_every_transport(
    client: TestClient, headers: dict[str, str], query: dict[str, str]
) -> None:
    me = client.get("/api/v4/user", headers=headers, params=query)
    found = client.get(
        f"/api/v4/projects/matrix%2Fprivate/jobs/{read_job(3)}", headers=headers, params=query
    )

    assert (me.status_code, me.json()["username"]) == (200, "reporter")
    assert (found.status_code, found.json()["id"]) == (200, read_job(3))


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        pytest.param({"PRIVATE-TOKEN": "nope"}, {}, id="private-token-header"),
        pytest.param({}, {"private_token": "nope"}, id="private_token-query"),
        pytest.param({"Authorization": "Bearer nope"}, {}, id="authorization-bearer"),
        pytest.param({"JOB-TOKEN": "nope"}, {}, id="job-token-header"),
        pytest.param({}, {"job_token": "nope"}, id="job_token-query"),
    ],
)
def test_unknown_token_is_401_in_every_transport(
    client: TestClient, headers: dict[str, str], query: dict[str, str]
) -> None:
    # Even on a route open to anonymous callers (who get a plain 404: the job has no archive)
    # and that accepts a job token.
    path = f"/api/v4/projects/matrix%2Fpublic/jobs/{read_job(1)}/artifacts"
    anonymous = client.get(path)
    response = client.get(path, headers=headers, params=query)

    assert anonymous.status_code == 404
    assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        pytest.param({"JOB-TOKEN": "nope"}, {}, id="job-token-header"),
        pytest.param({}, {"job_token": "nope"}, id="job_token-query"),
    ],
)
def test_a_job_token_is_ignored_where_gitlab_accepts_none(
    client: TestClient, headers: dict[str, str], query: dict[str, str]
) -> None:
    response = client.get("/api/v4/projects/matrix%2Fpublic", headers=headers, params=query)

    assert (response.status_code, response.json()["id"]) == (200, 1)


def test_basic_authorization_is_not_a_credential(client: TestClient) -> None:
    response = client.get(
        "/api/v4/projects/1/jobs", headers={"Authorization": "Basic dG9rLWFkbWluOg=="}
    )

    assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})


def test_project_id_and_encoded_path_resolve_to_the_same_access(client: TestClient) -> None:
    headers = {"PRIVATE-TOKEN": "tok-outsider"}

    by_path = client.get("/api/v4/projects/matrix%2Fprivate/jobs", headers=headers)
    by_id = client.get("/api/v4/projects/3/jobs", headers=headers)
    public_by_id = client.get("/api/v4/projects/1", headers=headers)

    assert by_path.status_code == by_id.status_code == 404
    assert by_id.json() == {"message": "404 Project Not Found"}
    assert public_by_id.json()["path_with_namespace"] == "matrix/public"
