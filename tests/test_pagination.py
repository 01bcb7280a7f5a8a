"""GitLab's pagination (CONTRACT section 10): offset headers, absolute Link URLs, keyset walks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from starlette.testclient import TestClient

from tests.support.apps import EXTERNAL, app_client, app_settings, import_document
from tests.support.documents import job, many_jobs, pipeline, project, user

ROOT = {"PRIVATE-TOKEN": "glpat-root"}
SMALL = "/api/v4/projects/foo%2Fbar"  # 45 jobs: 101..145
BIG = "/api/v4/projects/big%2Fkeyset"  # 260 jobs: 1001..1260
MOVING = "/api/v4/projects/moving%2Ftarget"  # 30 jobs: 2001..2030, changed while walked
RETRIED = "/api/v4/projects/with%2Fretries"  # 12 jobs: 3001..3012, every third retried
RETRIED_IDS = list(range(3012, 3000, -1))
SMALL_IDS = list(range(145, 100, -1))
BIG_IDS = list(range(1260, 1000, -1))
STATUS_CYCLE = ("success", "failed", "running", "pending", "canceled")
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def world() -> dict[str, object]:
    return {
        "users": [user(1, "root", admin=True, tokens=("glpat-root",))],
        "projects": [
            project(1, "foo/bar"),
            project(2, "big/keyset"),
            project(3, "many/pipelines"),
            project(4, "moving/target"),
            project(5, "with/retries"),
        ],
        "pipelines": [
            pipeline(1, 1),
            pipeline(2, 2),
            pipeline(4, 4),
            pipeline(5, 5),
            *(pipeline(100 + n, 3) for n in range(25)),
        ],
        "jobs": [
            *many_jobs(1, 1, 101, 45),
            *many_jobs(2, 2, 1001, 260),
            *(job(2001 + n, 4, "failed") for n in range(30)),
            *(job(3001 + n, 5, "failed", retried=n % 3 == 0) for n in range(12)),
        ],
    }


@pytest.fixture(scope="module")
def api(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("pagination")
    import_document(module_database_url, world(), directory)
    with app_client(app_settings(module_database_url, directory / "objects")) as client:
        yield client


def links(response: httpx2.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("link", ""))}


def page_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["page"][0])


def walk(api: TestClient, url: str, **kwargs: Any) -> tuple[list[int], list[httpx2.Response]]:
    """Follows rel="next" from `url` to the end; returns every id seen and every response."""
    seen: list[int] = []
    responses: list[httpx2.Response] = []
    next_url: str | None = url
    while next_url is not None:
        response = api.get(next_url, **kwargs)
        assert response.status_code == 200, response.text
        responses.append(response)
        seen += [item["id"] for item in response.json()]
        next_url = links(response).get("next")
        assert len(responses) <= 100, "the walk does not end"
    return seen, responses


def test_a_middle_page_has_every_header(api: TestClient) -> None:
    response = api.get(f"{SMALL}/pipelines/1/jobs?per_page=10&page=2", headers=ROOT)

    assert [j["id"] for j in response.json()] == SMALL_IDS[10:20]
    assert {k: response.headers[k] for k in (
        "x-page", "x-per-page", "x-next-page", "x-prev-page", "x-total", "x-total-pages",
    )} == {
        "x-page": "2", "x-per-page": "10", "x-next-page": "3", "x-prev-page": "1",
        "x-total": "45", "x-total-pages": "5",
    }  # fmt: skip
    found = links(response)
    assert sorted(found) == ["first", "last", "next", "prev"]
    assert {rel: page_of(url) for rel, url in found.items()} == {
        "prev": 1, "next": 3, "first": 1, "last": 5,
    }  # fmt: skip


def test_a_projects_jobs_are_not_counted(api: TestClient) -> None:
    """GitLab lists a project's jobs `without_count`: no total, no rel="last"."""
    response = api.get(f"{SMALL}/jobs?per_page=10&page=2", headers=ROOT)

    assert [j["id"] for j in response.json()] == SMALL_IDS[10:20]
    assert {k: response.headers[k] for k in (
        "x-page", "x-per-page", "x-next-page", "x-prev-page",
    )} == {"x-page": "2", "x-per-page": "10", "x-next-page": "3", "x-prev-page": "1"}  # fmt: skip
    assert "x-total" not in response.headers and "x-total-pages" not in response.headers
    found = links(response)
    assert sorted(found) == ["first", "next", "prev"]
    assert {rel: page_of(url) for rel, url in found.items()} == {
        "prev": 1, "next": 3, "first": 1,
    }  # fmt: skip


def test_first_page_has_no_prev_and_last_page_no_next(api: TestClient) -> None:
    first = api.get(f"{SMALL}/jobs?per_page=10", headers=ROOT)
    last = api.get(f"{SMALL}/jobs?per_page=10&page=5", headers=ROOT)

    assert (first.headers["x-page"], first.headers["x-prev-page"]) == ("1", "")
    assert first.headers["x-next-page"] == "2"
    assert "prev" not in links(first)
    assert [j["id"] for j in last.json()] == SMALL_IDS[40:]
    assert (last.headers["x-next-page"], last.headers["x-prev-page"]) == ("", "4")
    assert "next" not in links(last)
    assert sorted(links(last)) == ["first", "prev"]  # a last page found without counting


def test_default_page_size_is_20(api: TestClient) -> None:
    response = api.get(f"{SMALL}/jobs", headers=ROOT)

    assert [j["id"] for j in response.json()] == SMALL_IDS[:20]
    assert (response.headers["x-per-page"], response.headers["x-next-page"]) == ("20", "2")


def test_per_page_above_100_is_clamped_to_100(api: TestClient) -> None:
    response = api.get(f"{BIG}/jobs?per_page=1000", headers=ROOT)

    assert len(response.json()) == 100
    assert response.headers["x-per-page"] == "100"
    assert response.headers["x-next-page"] == "2"
    assert parse_qs(urlsplit(links(response)["next"]).query)["per_page"] == ["100"]


@pytest.mark.parametrize("page", ["6", "99999999999999999", "99999999999999999999999"])
def test_a_page_past_the_end_is_empty(api: TestClient, page: str) -> None:
    response = api.get(f"{SMALL}/jobs?per_page=10&page={page}", headers=ROOT)

    assert (response.status_code, response.json()) == (200, [])
    assert (response.headers["x-next-page"], response.headers["x-prev-page"]) == ("", "")
    assert "x-total" not in response.headers


def test_following_next_links_lists_every_job_once(api: TestClient) -> None:
    seen, responses = walk(api, f"{SMALL}/jobs?per_page=10", headers=ROOT)

    assert seen == SMALL_IDS
    assert len(responses) == 5


def test_link_urls_are_absolute_and_keep_the_query_and_encoded_path(api: TestClient) -> None:
    response = api.get(
        f"{SMALL}/jobs?scope[]=success&scope[]=failed&private_token=glpat-root&per_page=5"
    )

    expected = [i for i in SMALL_IDS if STATUS_CYCLE[(i - 101) % 5] in ("success", "failed")]
    assert [j["id"] for j in response.json()] == expected[:5]
    found = links(response)
    assert sorted(found) == ["first", "next"]
    for url in found.values():
        assert url.startswith(f"{EXTERNAL}/api/v4/projects/foo%2Fbar/jobs?")
        query = parse_qs(urlsplit(url).query)
        assert query["scope[]"] == ["success", "failed"]
        assert query["private_token"] == ["glpat-root"]
        assert query["per_page"] == ["5"]
        assert len(query["page"]) == 1
    # The links work as they are, without any header.
    seen, _ = walk(api, found["first"])
    assert seen == expected


def test_link_urls_start_with_external_url(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    external = "https://ci.example.com/artifacts"
    settings = app_settings(
        module_database_url, tmp_path_factory.mktemp("objects"), external_url=external
    )
    with app_client(settings, base_url="http://internal:8080") as client:
        response = client.get(f"{SMALL}/jobs?per_page=10", headers=ROOT)
        keyset = client.get(f"{SMALL}/jobs?pagination=keyset&per_page=10", headers=ROOT)

    for url in [*links(response).values(), *links(keyset).values()]:
        assert url.startswith(f"{external}/api/v4/projects/foo%2Fbar/jobs?"), url
    assert response.json()[0]["web_url"] == f"{external}/foo/bar/-/jobs/145"


def test_pipeline_jobs_are_paginated_newest_first(api: TestClient) -> None:
    response = api.get(f"{SMALL}/pipelines/1/jobs?per_page=10&page=5", headers=ROOT)

    assert [j["id"] for j in response.json()] == list(range(105, 100, -1))
    assert (response.headers["x-total"], response.headers["x-total-pages"]) == ("45", "5")
    assert links(response)["first"].startswith(f"{EXTERNAL}{SMALL}/pipelines/1/jobs?")


def test_pipelines_are_paginated(api: TestClient) -> None:
    response = api.get("/api/v4/projects/3/pipelines?per_page=10&page=3", headers=ROOT)

    assert [p["id"] for p in response.json()] == [104, 103, 102, 101, 100]  # newest first
    assert (response.headers["x-total"], response.headers["x-total-pages"]) == ("25", "3")
    assert (response.headers["x-next-page"], response.headers["x-prev-page"]) == ("", "2")


@pytest.mark.parametrize(("per_page", "pages"), [(20, 13), (26, 10), (100, 3), (7, 38)])
def test_keyset_walk_returns_each_job_exactly_once(
    api: TestClient, per_page: int, pages: int
) -> None:
    start = f"{BIG}/jobs?pagination=keyset&order_by=id&sort=desc&per_page={per_page}"

    seen, responses = walk(api, start, headers=ROOT)

    assert seen == BIG_IDS
    assert len(responses) == pages
    assert "link" not in responses[-1].headers
    for response in responses[:-1]:
        url = links(response)["next"]
        assert url.startswith(f"{EXTERNAL}{BIG}/jobs?")
        query = parse_qs(urlsplit(url).query)
        assert query["pagination"] == ["keyset"]
        assert query["per_page"] == [str(per_page)]
        assert len(query["cursor"]) == 1
        assert response.headers["x-per-page"] == str(per_page)


def test_keyset_walk_keeps_the_scope(api: TestClient) -> None:
    start = f"{BIG}/jobs?pagination=keyset&per_page=15&scope[]=failed&scope[]=canceled"

    seen, responses = walk(api, start, headers=ROOT)

    wanted = [i for i in BIG_IDS if STATUS_CYCLE[(i - 1001) % 5] in ("failed", "canceled")]
    assert seen == wanted
    assert len(responses) == 7  # 104 jobs
    assert parse_qs(urlsplit(links(responses[0])["next"]).query)["scope[]"] == [
        "failed", "canceled",
    ]  # fmt: skip


def test_keyset_walk_is_stable_while_jobs_are_added(api: TestClient) -> None:
    first = api.get(f"{MOVING}/jobs?pagination=keyset&per_page=10", headers=ROOT)
    # A retry adds a newer job at the head of the list between two pages.
    retried = api.post(f"{MOVING}/jobs/2005/retry", headers=ROOT)
    assert retried.status_code == 201

    rest, _ = walk(api, links(first)["next"], headers=ROOT)

    seen = [j["id"] for j in first.json()] + rest
    assert seen == list(range(2030, 2000, -1))


@pytest.mark.parametrize("per_page", [1, 5, 20])
def test_keyset_and_offset_pages_list_the_same_jobs(api: TestClient, per_page: int) -> None:
    """Retried jobs too: GitLab's project list (`user_project.builds`) keeps them, whichever
    pagination, while a pipeline's list hides them unless `include_retried`."""
    keyset, _ = walk(api, f"{RETRIED}/jobs?pagination=keyset&per_page={per_page}", headers=ROOT)
    offset, _ = walk(api, f"{RETRIED}/jobs?per_page={per_page}", headers=ROOT)
    scoped, _ = walk(
        api, f"{RETRIED}/jobs?pagination=keyset&scope=failed&per_page={per_page}", headers=ROOT
    )
    pipeline, _ = walk(api, f"{RETRIED}/pipelines/5/jobs?per_page={per_page}", headers=ROOT)

    assert keyset == offset == scoped == RETRIED_IDS
    assert pipeline == [i for i in RETRIED_IDS if (i - 3001) % 3 != 0]
