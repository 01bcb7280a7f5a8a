"""Deep paths: a 131 KB upload with one entry 32,000 folders deep once took a listing from
44 MB to 1.3 GB of memory (every ancestor path of every entry was kept in full).

Against a real `artifactsvc serve`: with the default bounds such an upload is refused (400,
nothing stored); with the bounds lifted (as for an archive indexed before they existed) both
listings, ours and GitLab's, walk it recursively with the server's peak RSS (VmHWM) barely
moving, and still count every folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.files.world import ROOT, one_project_world
from tests.support.apps import import_document
from tests.support.database import artifact_rows
from tests.support.processes import ServerProcess, peak_rss_bytes, server_process
from tests.support.service import upload
from tests.support.zips import Member, make_zip

DEPTH = 32_000
PEAK_GROWTH = 64 << 20  # the old listing grew by 1.3 GB for one such entry
P = "/api/v4/projects/1/jobs"


def deep_name(letter: str) -> str:
    return f"{letter}/" * DEPTH + "x"


def deep_archive(*letters: str) -> bytes:
    return make_zip([Member(deep_name(letter), b"deep\n") for letter in letters])


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    env = {
        "ARTIFACTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/meta.db",
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
        **getattr(request, "param", {}),
    }
    import_document(env["ARTIFACTSVC_DATABASE_URL"], one_project_world([1, 2, 3]), tmp_path)
    with server_process(env, cwd=tmp_path) as served:
        yield served


def test_an_entry_deeper_than_the_bound_is_refused_at_upload_and_nothing_is_stored(
    server: ServerProcess, tmp_path: Path
) -> None:
    data = deep_archive("a")
    assert len(data) < 140_000
    long_name = make_zip([Member("n" * 5000, b"long\n")])
    with httpx2.Client(base_url=server.base_url, timeout=60) as client:
        deep = upload(client, 1, data)
        long = upload(client, 2, long_name)
        fine = upload(client, 3, make_zip([Member("a/" * 127 + "x", b"ok\n")]))

    assert deep.status_code == 400, deep.text
    assert "32001 folders deep, more than 128" in deep.json()["message"]
    assert long.status_code == 400, long.text
    assert "5000 bytes is longer than 4096 bytes" in long.json()["message"]
    assert fine.status_code == 201, fine.text
    stored = sorted(p.name for p in (tmp_path / "objects").rglob("*") if p.is_file())
    rows = artifact_rows(f"sqlite:///{tmp_path}/meta.db")
    assert [row["job_id"] for row in rows] == [3]
    assert len(stored) == 2  # job 3's archive and its index, nothing of jobs 1 and 2


UNBOUNDED = {"ARTIFACTSVC_MAX_PATH_DEPTH": "65535", "ARTIFACTSVC_MAX_NAME_BYTES": "65535"}


@pytest.mark.parametrize("server", [UNBOUNDED], indirect=True)
@pytest.mark.parametrize("letters", [("a",), ("a", "b")], ids=["one", "two"])
def test_listing_an_entry_32000_folders_deep_keeps_memory_flat(
    server: ServerProcess, letters: tuple[str, ...]
) -> None:
    with httpx2.Client(base_url=server.base_url, timeout=120, headers=ROOT) as client:
        assert upload(client, 1, deep_archive(*letters)).status_code == 201
        before = peak_rss_bytes(server.pid)
        folders = DEPTH * len(letters)
        for route in ("artifacts_tree", "artifacts/tree"):
            first = client.get(f"{P}/1/{route}", params={"recursive": "true"})
            assert first.status_code == 200, first.text
            if route == "artifacts_tree":  # GitLab's counts no list of 10,000 or more
                assert first.headers["x-total"] == str(folders + len(letters))
            assert [item["path"].rstrip("/") for item in first.json()][:3] == ["a", "a/a", "a/a/a"]
            deep = client.get(f"{P}/1/{route}", params={"recursive": "true", "page": "500"})
            assert deep.status_code == 200, deep.text
            assert len(deep.json()) == 20
        after = peak_rss_bytes(server.pid)

    print({"letters": len(letters), "rss_before_mib": before >> 20, "after_mib": after >> 20})
    assert after - before < PEAK_GROWTH
