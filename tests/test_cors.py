"""CORS on /api/* as GitLab's rack-cors rule gives it (api/cors.py), seen by a real HTTP client
talking to `artifactsvc serve` (uvicorn) the way a browser does: a preflight first, then the
cross-origin request, whose exposed headers must let a page read the pagination."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.apps import import_document
from tests.support.documents import many_jobs, pipeline, project, user
from tests.support.processes import server_process

TOKEN = "glpat-cors-root"
ORIGIN = "https://dashboard.example"
PAGINATION = {"Link", "X-Total", "X-Total-Pages", "X-Per-Page", "X-Page", "X-Next-Page",
              "X-Prev-Page"}  # fmt: skip
JOBS = "/api/v4/projects/1/jobs"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx2.Client]:
    directory: Path = tmp_path_factory.mktemp("cors")
    database_url = f"sqlite:///{directory}/meta.db"
    import_document(
        database_url,
        {
            "users": [user(1, "root", admin=True, tokens=(TOKEN,))],
            "projects": [project(1, "cors/app", "private")],
            "pipelines": [pipeline(5, 1)],
            "jobs": many_jobs(1, 5, 100, 45),
        },
        directory,
    )
    env = {
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": str(directory / "objects"),
    }
    with (
        server_process(env, cwd=directory) as server,
        httpx2.Client(base_url=server.base_url, timeout=30) as client,
    ):
        yield client


def preflight(api: httpx2.Client, path: str, method: str = "GET") -> httpx2.Response:
    return api.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "PRIVATE-TOKEN",
        },
    )


def listed(value: str) -> set[str]:
    return {item.strip() for item in value.split(",")}


def test_a_browser_preflight_is_allowed_for_any_origin_without_credentials(
    api: httpx2.Client,
) -> None:
    response = preflight(api, JOBS)

    assert (response.status_code, response.content) == (200, b"")
    headers = response.headers
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-headers"] == "PRIVATE-TOKEN"
    assert listed(headers["access-control-allow-methods"]) == {
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"
    }  # fmt: skip
    assert headers["access-control-max-age"] == "7200"
    assert "access-control-allow-credentials" not in headers
    assert PAGINATION | {"X-Request-Id", "ETag"} <= listed(headers["access-control-expose-headers"])
    assert headers["x-request-id"]  # answered inside the edge: logged, with an id


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v4/no/such/route", "GET"),
        (f"{JOBS}/100/artifacts", "DELETE"),
        ("/api/v4/jobs/100/artifacts", "POST"),
    ],
)
def test_a_preflight_is_answered_before_any_route_or_token_is_looked_at(
    api: httpx2.Client, path: str, method: str
) -> None:
    response = preflight(api, path, method)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_a_preflight_for_a_method_outside_the_list_is_refused_by_omission(
    api: httpx2.Client,
) -> None:
    response = preflight(api, JOBS, "TRACE")

    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)


def test_a_cross_origin_get_exposes_its_pagination_headers(api: httpx2.Client) -> None:
    response = api.get(
        "/api/v4/projects/1/pipelines/5/jobs",  # counted, so every pagination header is sent
        params={"per_page": 10, "page": 2},
        headers={"Origin": ORIGIN, "PRIVATE-TOKEN": TOKEN},
    )

    assert response.status_code == 200
    assert len(response.json()) == 10
    headers = response.headers
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers
    exposed = listed(headers["access-control-expose-headers"])
    assert PAGINATION | {"X-Request-Id", "ETag"} <= exposed
    present = {name for name in PAGINATION | {"X-Request-Id"} if name.lower() in headers}
    assert present == PAGINATION | {"X-Request-Id"}  # what is exposed is really sent
    assert (headers["x-total"], headers["x-page"], headers["x-next-page"]) == ("45", "2", "3")
    assert "Origin" in listed(headers["vary"])


def test_a_cross_origin_error_is_readable_by_the_page(api: httpx2.Client) -> None:
    response = api.get(JOBS, headers={"Origin": ORIGIN})  # no token

    assert response.status_code == 401
    assert response.json() == {"message": "401 Unauthorized"}
    assert response.headers["access-control-allow-origin"] == "*"


def test_a_same_origin_request_gets_no_cors_headers_but_varies_on_origin(
    api: httpx2.Client,
) -> None:
    response = api.get(JOBS, headers={"PRIVATE-TOKEN": TOKEN})

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert listed(response.headers["vary"]) == {"Origin"}


def test_cors_covers_the_api_only(api: httpx2.Client) -> None:
    asked = preflight(api, "/-/liveness")
    plain = api.get("/-/liveness", headers={"Origin": ORIGIN})

    assert asked.status_code == 405  # the route's own answer: nothing answered it before
    assert "access-control-allow-origin" not in asked.headers
    assert plain.status_code == 200
    assert "access-control-allow-origin" not in plain.headers
    assert "vary" not in plain.headers
