"""GitLab 18.8's listing, GET /projects/:id/jobs/:job_id/artifacts/tree (api/listings.py):
GitLab's entry shape and order, its offset pagination, its 404s, and its route taking
precedence over a file literally named `tree`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gitlab
import pytest
from starlette.testclient import TestClient

from tests.files.conftest import World
from tests.files.world import ROOT, ROOT_TOKEN, ZIP64_ENTRIES, one_project_world
from tests.support.apps import app_client, app_settings, import_document
from tests.support.service import finish, upload_archive
from tests.support.zips import Member, infos, make_zip

TREE = "/api/v4/projects/1/jobs/11/artifacts/tree"
CLIMBING = {"../evil.txt", "/abs.txt"}


def listing(client: TestClient, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every entry, following X-Next-Page as a client would."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.get(url, params={**params, "page": page, "per_page": 100})
        assert response.status_code == 200, response.text
        found += response.json()
        if not response.headers["x-next-page"]:
            return found
        page = int(response.headers["x-next-page"])


def gitlab_paths(names: list[str]) -> set[str]:
    """What GitLab's metadata holds: every name, and every folder above one, with a `/`."""
    paths: set[str] = set()
    for name in names:
        parts = name.rstrip("/").split("/")
        paths.update("/".join(parts[:depth]) + "/" for depth in range(1, len(parts)))
        paths.add(name)
    return paths


def test_a_folder_lists_subfolders_then_files_in_gitlabs_entry_shape(world: World) -> None:
    entries = listing(world.client, TREE)
    by_path = {e["path"]: e for e in entries}

    kinds = [e["type"] for e in entries]
    assert kinds == sorted(kinds, key=lambda kind: kind != "directory")  # folders first
    for kind in ("directory", "file"):
        paths = [e["path"] for e in entries if e["type"] == kind]
        assert paths == sorted(paths)
    assert by_path["hello.txt"] == {
        "name": "hello.txt",
        "path": "hello.txt",
        "type": "file",
        "size": 13,
        "mode": "000640",
    }
    assert by_path["deflated/"] == {
        "name": "deflated",
        "path": "deflated/",
        "type": "directory",
        "mode": None,  # no entry of its own in the archive: only its files imply it
    }
    assert by_path["dir/"]["mode"] == "000755"
    assert by_path["link"] == {  # GitLab knows files and directories only
        "name": "link",
        "path": "link",
        "type": "file",
        "size": len(b"hello.txt"),
        "mode": "000777",
    }
    assert {"raw", "raw/"} <= set(by_path)  # a file and a folder of the same name
    assert all("/" not in e["path"].rstrip("/") for e in entries)


def test_recursive_lists_everything_below_once_in_the_metadata_order(world: World) -> None:
    entries = listing(world.client, TREE, recursive="true")
    paths = [e["path"] for e in entries]

    assert paths == sorted(paths)  # sorted as the metadata is: folders spelled with their `/`
    assert set(paths) == gitlab_paths(list(infos(world.archives[11])))
    assert len(paths) == len(set(paths))
    (dup,) = [e for e in entries if e["path"] == "dup.txt"]  # stored twice: listed once,
    assert dup["size"] == len(b"first occurrence\n")  # as the one the file route serves
    assert world.client.get(f"{TREE[:-5]}/dup.txt").content == b"first occurrence\n"


def test_a_subfolder_lists_its_own_children_with_full_paths(world: World) -> None:
    deep = listing(world.client, TREE, path="deep")
    slashed = listing(world.client, TREE, path="deep/")
    below = listing(world.client, TREE, path="deflated", recursive="1")

    assert deep == slashed == [{"name": "a", "path": "deep/a/", "type": "directory", "mode": None}]
    assert [e["path"] for e in below] == ["deflated/big.log", "deflated/small.txt"]


def test_pages_carry_gitlabs_offset_headers(world: World) -> None:
    total = len(listing(world.client, TREE, recursive="true"))

    response = world.client.get(TREE, params={"recursive": "true", "per_page": 7, "page": 2})

    headers = response.headers
    assert len(response.json()) == 7
    assert (headers["x-page"], headers["x-per-page"]) == ("2", "7")
    assert (headers["x-prev-page"], headers["x-next-page"]) == ("1", "3")
    assert (headers["x-total"], headers["x-total-pages"]) == (str(total), str(-(-total // 7)))
    rels = {part.split('rel="')[1].rstrip('"') for part in headers["link"].split(", ")}
    assert rels == {"prev", "next", "first", "last"}


def test_ten_thousand_entries_or_more_are_paged_without_totals(world: World) -> None:
    url = "/api/v4/projects/1/jobs/12/artifacts/tree"

    everything = world.client.get(url, params={"recursive": "true"})
    top = world.client.get(url)

    assert ZIP64_ENTRIES >= 10_000
    assert everything.status_code == 200 and everything.headers["x-next-page"] == "2"
    assert "x-total" not in everything.headers and "x-total-pages" not in everything.headers
    assert 'rel="last"' not in everything.headers["link"]
    assert int(top.headers["x-total"]) < 10_000 and 'rel="last"' in top.headers["link"]


@pytest.mark.parametrize("path", ["no/such/folder", "hello.txt", "deep/a/b/c/d/e.txt"])
def test_a_folder_the_archive_does_not_hold_is_404(world: World, path: str) -> None:
    response = world.client.get(TREE, params={"path": path})

    assert (response.status_code, response.json()) == (404, {"message": "404 Path Not Found"})


def test_entries_whose_names_climb_out_of_the_archive_are_not_listed(world: World) -> None:
    crafted = listing(world.client, "/api/v4/projects/1/jobs/13/artifacts/tree", recursive="1")

    paths = {e["path"] for e in crafted}
    assert "plain.txt" in paths and not paths & CLIMBING
    assert not any(p.startswith(("..", "/")) for p in paths)


def test_a_private_projects_listing_needs_access(world: World) -> None:
    url = "/api/v4/projects/2/jobs/21/artifacts/tree"

    anonymous = world.client.get(url)
    root = world.client.get(url, headers=ROOT)

    assert (anonymous.status_code, anonymous.json()) == (404, {"message": "404 Project Not Found"})
    assert root.status_code == 200 and root.json()[0]["path"] == "a/"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("recursive=maybe", "recursive is invalid"),
        ("per_page=0", "per_page does not have a valid value"),
    ],
)
def test_bad_parameters_are_400_as_gitlabs_validation(world: World, query: str, error: str) -> None:
    response = world.client.get(f"{TREE}?{query}")

    assert (response.status_code, response.json()) == (400, {"error": error})


ROOT_FILES = {"tree": b"a file named tree\n", "tree.json": b"{}\n", "tree.txt": b"text\n"}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Job 1: root files named like the listing, an empty folder; job 2: no archive."""
    directory: Path = tmp_path_factory.mktemp("tree-routes")
    database_url = f"sqlite:///{directory}/meta.db"
    import_document(database_url, one_project_world([1, 2]), directory)
    members = [Member(name, data) for name, data in ROOT_FILES.items()]
    members += [Member("empty/"), Member("sub/tree", b"nested tree\n")]
    with app_client(app_settings(database_url, directory / "objects")) as client:
        upload_archive(client, 1, make_zip(members))
        finish(client, 1)
        yield client


@pytest.mark.parametrize("leaf", ["tree", "tre%65", "tree.json", "tree%2Ejson"])
def test_the_listing_route_wins_over_a_file_named_tree(small: TestClient, leaf: str) -> None:
    response = small.get(f"/api/v4/projects/1/jobs/1/artifacts/{leaf}")

    assert response.status_code == 200
    assert {e["path"] for e in response.json()} == {"empty/", "sub/", *ROOT_FILES}


def test_a_file_named_tree_is_still_served_where_the_listing_does_not_match(
    small: TestClient,
) -> None:
    other = small.get("/api/v4/projects/1/jobs/1/artifacts/tree.txt")
    nested = small.get("/api/v4/projects/1/jobs/1/artifacts/sub/tree")
    by_ref = small.get("/api/v4/projects/1/jobs/artifacts/master/raw/tree?job=job-1")

    assert other.content == ROOT_FILES["tree.txt"]
    assert nested.content == b"nested tree\n"
    assert by_ref.content == ROOT_FILES["tree"]


def test_an_empty_folder_is_an_empty_page_not_a_404(small: TestClient) -> None:
    response = small.get("/api/v4/projects/1/jobs/1/artifacts/tree", params={"path": "empty"})

    assert (response.status_code, response.json()) == (200, [])
    assert (response.headers["x-total"], response.headers["x-total-pages"]) == ("0", "1")


def test_a_job_without_an_archive_is_404_artifacts_not_found(small: TestClient) -> None:
    none = small.get("/api/v4/projects/1/jobs/2/artifacts/tree")
    unknown = small.get("/api/v4/projects/1/jobs/99/artifacts/tree")

    assert (none.status_code, none.json()) == (404, {"message": "404 Artifacts Not Found"})
    assert (unknown.status_code, unknown.json()) == (404, {"message": "404 Not found"})


def test_python_gitlab_pages_through_the_listing_by_its_link_headers(
    world: World, server: str
) -> None:
    """python-gitlab 8 has no method for this endpoint; its generic list (`http_list`, what
    every manager's `list()` uses) follows rel="next" and reads X-Total."""
    client = gitlab.Gitlab(server, private_token=ROOT_TOKEN, timeout=60)

    pages = client.http_list(
        "/projects/1/jobs/11/artifacts/tree",
        query_data={"recursive": True, "per_page": 7},
        iterator=True,
    )
    entries = list(pages)

    assert isinstance(pages, gitlab.GitlabList) and pages.total == len(entries)
    assert entries == listing(world.client, TREE, recursive="true")


def test_the_listing_is_documented_under_its_own_path(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]

    listed = paths["/api/v4/projects/{id}/jobs/{job_id}/artifacts/tree"]["get"]
    assert [p["name"] for p in listed["parameters"] if p["in"] == "path"] == ["id", "job_id"]
    assert listed["summary"].startswith("GET /projects/:id/jobs/:job_id/artifacts/tree")
