"""artifacts_tree (the archive's entries as JSON) and artifacts_tree/archive (a folder as a zip)."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.files.conftest import World
from tests.files.world import MAIN_FILES, ROOT, ZIP64_ENTRIES
from tests.support.zips import infos, stream_zip_members

TREE = "/api/v4/projects/1/jobs/11/artifacts_tree"
FIELDS = {"name", "path", "type", "size", "compressed_size", "crc", "mode", "mtime"}


def walk(world: World, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every entry, following X-Next-Page."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = world.client.get(url, params={**params, "page": page, "per_page": 100})
        assert response.status_code == 200, response.text
        found += response.json()
        if not response.headers["x-next-page"]:
            return found
        page = int(response.headers["x-next-page"])


def expected_paths(names: list[str]) -> set[str]:
    paths: set[str] = set()
    for name in names:
        parts = name.rstrip("/").split("/")
        paths.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return paths


def test_recursive_listing_names_every_entry_and_every_implied_folder(world: World) -> None:
    entries = walk(world, TREE, recursive="true")
    names = list(infos(world.archives[11]))

    paths = [e["path"] for e in entries]
    assert paths == sorted(paths)
    twice = sorted((e["path"], e["type"]) for e in entries if paths.count(e["path"]) > 1)
    # dup.txt is stored twice; `raw` is a file and also the folder of raw/file.txt
    assert twice == [
        ("dup.txt", "file"),
        ("dup.txt", "file"),
        ("raw", "directory"),
        ("raw", "file"),
    ]
    assert set(paths) == expected_paths(names)
    assert all(set(e) == FIELDS for e in entries)


def test_a_file_entry_carries_its_central_directory_facts(world: World) -> None:
    entries = {e["path"]: e for e in walk(world, TREE, recursive="true")}
    info = infos(world.archives[11])["deflated/big.log"]

    assert entries["deflated/big.log"] == {
        "name": "big.log",
        "path": "deflated/big.log",
        "type": "file",
        "size": info.file_size,
        "compressed_size": info.compress_size,
        "crc": f"{info.CRC:08x}",
        "mode": "000640",
        "mtime": "2024-05-06T07:08:10.000Z",
    }
    assert info.compress_size < info.file_size == len(MAIN_FILES["deflated/big.log"][0])
    assert entries["link"]["type"] == "symlink"
    assert entries["dir"]["type"] == "directory" and entries["dir"]["mode"] == "000755"
    assert entries["deep/a/b"] == {
        "name": "b",
        "path": "deep/a/b",
        "type": "directory",
        "size": 0,
        "compressed_size": 0,
        "crc": None,
        "mode": None,
        "mtime": None,
    }


def test_non_recursive_listing_shows_one_level_with_implied_folders(world: World) -> None:
    root = {e["path"]: e["type"] for e in walk(world, TREE)}
    deep = [(e["path"], e["type"]) for e in walk(world, TREE, path="deep")]
    deep_all = [e["path"] for e in walk(world, TREE, path="deep/", recursive="1")]

    assert root["names"] == root["deflated"] == root["deep"] == "directory"
    raw = [e["type"] for e in walk(world, TREE) if e["path"] == "raw"]
    assert sorted(raw) == ["directory", "file"]  # a file does not hide the folder of the same name
    assert root["hello.txt"] == "file" and root["link"] == "symlink"
    assert not any("/" in path for path in root)
    assert deep == [("deep/a", "directory")]
    assert deep_all == ["deep/a", "deep/a/b", "deep/a/b/c", "deep/a/b/c/d", "deep/a/b/c/d/e.txt"]


def test_listing_pagination_headers(world: World) -> None:
    total = len(walk(world, TREE, recursive="true"))

    response = world.client.get(TREE, params={"recursive": "true", "per_page": 7, "page": 2})

    assert [len(response.json()), response.headers["x-total"]] == [7, str(total)]
    assert response.headers["x-page"] == "2" and response.headers["x-per-page"] == "7"
    assert response.headers["x-prev-page"] == "1" and response.headers["x-next-page"] == "3"
    assert response.headers["x-total-pages"] == str(-(-total // 7))
    links = {
        rel.split('"')[1]: url.strip(" <>")
        for url, rel in (part.split(";") for part in response.headers["link"].split(","))
    }
    next_query = parse_qs(urlsplit(links["next"]).query)
    assert next_query == {"recursive": ["true"], "per_page": ["7"], "page": ["3"]}
    assert links["next"].startswith("http://artifacts.test/api/v4/projects/1/jobs/11/")


def test_zip64_listing_counts_every_entry(world: World) -> None:
    response = world.client.get(
        "/api/v4/projects/1/jobs/12/artifacts_tree", params={"recursive": "true", "per_page": 5}
    )

    names = [name for name, _, _ in stream_zip_members(ZIP64_ENTRIES)]
    assert response.headers["x-total"] == str(ZIP64_ENTRIES + 97)  # entries + d0..d96
    assert [e["path"] for e in response.json()] == sorted(expected_paths(names))[:5]


@pytest.mark.parametrize("suffix", ["", "/archive"])
def test_tree_has_archive_download_permissions(world: World, suffix: str) -> None:
    url = f"/api/v4/projects/2/jobs/21/artifacts_tree{suffix}"

    anonymous = world.client.get(url)
    root = world.client.get(url, headers=ROOT)
    public = world.client.get(f"/api/v4/projects/1/jobs/11/artifacts_tree{suffix}")

    assert (anonymous.status_code, anonymous.json()) == (404, {"message": "404 Project Not Found"})
    assert root.status_code == 200 and public.status_code == 200


@pytest.mark.parametrize(
    "path", ["..", "a%2F..%2Fb", "a%00b", "%2Fetc", "a%2F%2Fb", "%01", "%ff", "dist%c0%ae"]
)
def test_tree_refuses_bad_folders(world: World, path: str) -> None:
    for suffix in ("", "/archive"):
        response = world.client.get(f"{TREE}{suffix}?path={path}")
        assert response.status_code == 400, (suffix, path, response.text)


def folder_zip(world: World, job_id: int, path: str | None) -> zipfile.ZipFile:
    params = {} if path is None else {"path": path}
    response = world.client.get(
        f"/api/v4/projects/1/jobs/{job_id}/artifacts_tree/archive", params=params
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "content-encoding" not in response.headers
    return zipfile.ZipFile(io.BytesIO(response.content))


@pytest.mark.parametrize("path", ["deflated", "methods", "stored", "names", "deep/a"])
def test_folder_archive_copies_members_still_compressed(world: World, path: str) -> None:
    original = infos(world.archives[11])

    with folder_zip(world, 11, path) as copy:
        assert copy.testzip() is None  # every CRC checks out
        members = [i for i in copy.infolist() if not i.is_dir()]
        # A backslash is a separator where the zip may be extracted: such names are left out.
        expected = [n for n in MAIN_FILES if n.startswith(f"{path}/") and "\\" not in n]
        assert sorted(i.filename for i in members) == sorted(expected)
        for info in members:
            source = original[info.filename]
            assert (info.compress_type, info.compress_size, info.CRC) == (
                source.compress_type,
                source.compress_size,
                source.CRC,
            )
            assert copy.read(info) == MAIN_FILES[info.filename][0]


def test_folder_archive_is_named_after_the_folder(world: World) -> None:
    response = world.client.get(f"{TREE}/archive", params={"path": "deep/a"})

    assert response.headers["content-disposition"] == (
        "attachment; filename=\"a.zip\"; filename*=UTF-8''a.zip"
    )


def test_whole_archive_as_a_folder_zip_keeps_files_and_directories(world: World) -> None:
    with folder_zip(world, 11, None) as copy:
        assert copy.testzip() is None
        names = {i.filename for i in copy.infolist()}
    # Symlinks are left out, and so are names a backslash would make climb when extracted.
    kept = {name for name in MAIN_FILES if "\\" not in name}
    assert kept | {"dir/", "dir/inside.txt"} == names


def test_folder_archive_of_a_streamed_archive_drops_the_data_descriptors(world: World) -> None:
    with folder_zip(world, 14, "streamed") as copy:
        assert copy.testzip() is None
        assert not any(i.flag_bits & 0x08 for i in copy.infolist())


def test_folder_archive_of_a_missing_folder_is_404(world: World) -> None:
    response = world.client.get(f"{TREE}/archive", params={"path": "no/such/folder"})

    assert (response.status_code, response.json()) == (404, {"message": "404 Not Found"})


def test_folder_archive_refuses_encrypted_members(world: World) -> None:
    response = world.client.get("/api/v4/projects/1/jobs/13/artifacts_tree/archive")

    assert response.status_code == 400
    assert response.json()["message"].startswith("400 Bad request")


def test_listing_deeper_than_the_window_is_refused_not_scanned(world: World) -> None:
    url = "/api/v4/projects/1/jobs/12/artifacts_tree"

    deep = world.client.get(url, params={"recursive": "true", "page": 501, "per_page": 100})
    last = world.client.get(url, params={"recursive": "true", "page": 500, "per_page": 100})

    assert (deep.status_code, deep.json()) == (
        400,
        {"error": "page is too large; list a subfolder instead"},
    )
    assert last.status_code == 200 and len(last.json()) == 100


@pytest.mark.parametrize("per_page", ["0", "-1", "x"])
def test_listing_rejects_bad_pagination(world: World, per_page: str) -> None:
    response = world.client.get(TREE, params={"per_page": per_page})

    assert response.status_code == 400
