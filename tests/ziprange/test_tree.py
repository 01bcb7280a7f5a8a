"""The tree section against the bucket walk it replaces: for odd and hostile real archives
(repeats, implied folders, names that climb, `./a`, `a//b`, `/x`, folders with and without
their own entry, a folder entry without its `/`, symlinks, unicode, deep paths, a file and a
folder of one name, a folder of thousands), every folder and several windows give the same
page, total and FolderNotFound through `indexed_folder` as through `list_folder` and
`gitlab_folder` over the archive's own entries; and a page costs one or two reads."""

from __future__ import annotations

import io
import random
import stat
import warnings
import zipfile
from collections import Counter

import pytest

from artifactsvc.errors import FolderNotFound
from artifactsvc.listing import TreePage, gitlab_folder, indexed_folder, list_folder
from artifactsvc.ziprange import (
    BucketCache,
    BytesSource,
    CountingSource,
    Entry,
    IndexDirectory,
    iter_entries,
    read_directory,
    treebuild,
)
from artifactsvc.ziprange.runs import SortedRuns
from artifactsvc.ziprange.tree import PAGE
from tests.support.zips import index_of

DATE = (2024, 1, 2, 3, 4, 6)


def odd_zip(members: list[tuple[str, str]]) -> bytes:
    """(name, kind) members, kind "file", "dir" (a `/` or not: as named), or "link"."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        with zipfile.ZipFile(buf, "w") as archive:
            for n, (name, kind) in enumerate(members):
                info = zipfile.ZipInfo(name, date_time=DATE)
                info.create_system = 3
                if kind == "dir":
                    info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                elif kind == "link":
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                else:
                    info.external_attr = (stat.S_IFREG | 0o640) << 16
                archive.writestr(info, b"" if kind == "dir" else f"{n}".encode())
    return buf.getvalue()


HOSTILE = [
    ("a/b/c.txt", "file"),
    ("a/", "dir"),
    ("a/b/c.txt", "file"),  # a repeat
    ("a/b/", "dir"),  # after the files it holds
    ("../x", "file"),
    ("a/../y", "file"),
    ("./a", "file"),
    ("./z/w", "file"),
    ("/abs", "file"),
    ("/", "dir"),
    ("a//b", "file"),
    ("a//", "dir"),
    ("a.b", "file"),
    ("a-b/c", "file"),
    ("a0", "file"),
    ("a", "file"),  # a file and a folder of one name
    ("d", "dir"),  # a folder entry without its `/`
    ("d/", "dir"),
    ("e/f/g/h/i/j.txt", "file"),  # only implied folders
    ("empty/", "dir"),
    ("link", "link"),
    ("link", "file"),  # a symlink and a file of one name: GitLab keeps the first
    ("été/ünï/©.txt", "file"),
    ("été/ünï/", "dir"),
    ("日本/語", "file"),
    ("x" * 80 + "/" + "y" * 80 + "/z", "file"),
    ("/".join(["deep"] * 60) + "/leaf", "file"),
    (".hidden/.x", "file"),
    ("a b/c d", "file"),
    ("...", "file"),
    ("a/./b", "file"),
    ("q/r/", "dir"),
    ("q/r/", "dir"),
    ("q/r", "file"),
]


def random_members(rng: random.Random) -> list[tuple[str, str]]:
    segments = ["a", "b", "ab", "a-b", "a.b", "..", ".", "", "x" * 70, "é", "b0", "B"]
    members = []
    for _ in range(rng.randrange(1, 80)):
        depth = rng.choice([1, 1, 2, 3, 5, 12])
        name = "/".join(rng.choice(segments) for _ in range(depth))
        roll = rng.random()
        if roll < 0.2:
            members.append((name + "/", "dir"))
        elif roll < 0.25:
            members.append((name or "n", "dir"))
        elif roll < 0.3:
            members.append((name or "n", "link"))
        else:
            members.append((name or "f", "file"))
        if rng.random() < 0.1:
            members.append(members[rng.randrange(len(members))])
    return members


def folders_of(entries: list[Entry]) -> set[str]:
    found = {"", "nope", "a/nope", "a/b/c.txt"}
    for entry in entries:
        name = entry.name.rstrip("/")
        found.update(name[:i] for i, ch in enumerate(name) if ch == "/")
        found.add(name)
    found.discard("")
    return found | {""}


def archive_entries(archive: bytes, directory: IndexDirectory) -> list[Entry]:
    source = BytesSource(archive)
    chunks = source.stream(directory.cd_offset, directory.cd_size)
    return list(iter_entries(chunks, directory.entry_count))


def old_page(
    entries: list[Entry], folder: str, *, gitlab: bool, offset: int, limit: int
) -> TreePage | None:
    """The bucket walk's page (None: FolderNotFound), entries in archive order as one bucket
    (every entry of one name shares a bucket, so a listing's "first" is the archive's)."""
    try:
        if gitlab:
            return gitlab_folder([entries], folder, recursive=False, offset=offset, limit=limit)
        return list_folder(entries, folder, recursive=False, offset=offset, limit=limit)
    except FolderNotFound:
        return None


def new_page(
    directory: IndexDirectory, sidecar: bytes, folder: str, *, gitlab: bool, offset: int, limit: int
) -> TreePage | None:
    try:
        return indexed_folder(
            directory, BytesSource(sidecar), folder, gitlab=gitlab, offset=offset, limit=limit
        )
    except FolderNotFound:
        return None


def windows(total: int) -> list[tuple[int, int]]:
    found = [(0, 5), (3, 4), (0, 10_000), (max(total - 2, 0), 7), (total, 5), (0, 1)]
    if total > PAGE:
        found += [(PAGE - 1, 3), (PAGE, 100), (2 * PAGE - 50, 100), (total - 100, 100)]
    return found


def assert_same_listings(archive: bytes, folders: set[str] | None = None) -> int:
    indexed = index_of(archive)
    directory = indexed.directory
    assert directory.tree is not None
    entries = archive_entries(archive, directory)
    checked = 0
    for folder in sorted(folders_of(entries) if folders is None else folders):
        for gitlab in (False, True):
            whole_old = old_page(entries, folder, gitlab=gitlab, offset=0, limit=1 << 30)
            whole_new = new_page(
                directory, indexed.sidecar, folder, gitlab=gitlab, offset=0, limit=1 << 30
            )
            where = (folder, gitlab)
            if whole_old is None or whole_new is None:
                assert whole_old is whole_new is None, where
                continue
            assert whole_new.total == whole_old.total == len(whole_old.entries), where
            if gitlab:
                assert whole_new.entries == whole_old.entries, where
            else:
                # Ours sorts by path only: entries of one path (repeats, a file and a folder)
                # tie, and the walk's heap leaves their order open; the tree keeps archive
                # order. Same paths in the same order, the same entries in all.
                assert [e.path for e in whole_new.entries] == [e.path for e in whole_old.entries]
                assert Counter(whole_new.entries) == Counter(whole_old.entries), where
            for offset, limit in windows(whole_old.total):
                old = old_page(entries, folder, gitlab=gitlab, offset=offset, limit=limit)
                new = new_page(
                    directory, indexed.sidecar, folder, gitlab=gitlab, offset=offset, limit=limit
                )
                assert old is not None and new is not None
                assert new.total == old.total, (where, offset, limit)
                assert new.entries == whole_new.entries[offset : offset + limit]
                assert [e.path for e in new.entries] == [e.path for e in old.entries]
                if gitlab:
                    assert new.entries == old.entries, (where, offset, limit)
                checked += 1
    return checked


def test_hostile_names_list_as_the_bucket_walk_lists_them() -> None:
    assert assert_same_listings(odd_zip(HOSTILE)) > 100


@pytest.mark.parametrize("seed", range(30))
def test_random_archives_list_as_the_bucket_walk_lists_them(seed: int) -> None:
    assert_same_listings(odd_zip(random_members(random.Random(seed))))


def test_a_folder_of_thousands_pages_as_the_bucket_walk_pages_it() -> None:
    rng = random.Random(7)
    members = [(f"big/{rng.randrange(10**9):09d}-{'n' * 30}-{i}.txt", "file") for i in range(3000)]
    members += [(f"big/sub{i}/f", "file") for i in range(0, 300, 7)]
    members += [(f"big/sub{i}/", "dir") for i in range(0, 300, 21)]
    members += [("big/" + members[5][0][4:], "file")]  # a repeat
    folders = {"", "big", "big/sub0", "big/sub7", "big/sub21", "nope"}
    assert assert_same_listings(odd_zip(members), folders) > 0


def test_an_empty_archive_lists_an_empty_root() -> None:
    indexed = index_of(odd_zip([]))
    for gitlab in (False, True):
        page = new_page(indexed.directory, indexed.sidecar, "", gitlab=gitlab, offset=0, limit=5)
        assert page == TreePage([], 0)
    assert new_page(indexed.directory, indexed.sidecar, "a", gitlab=True, offset=0, limit=5) is None


def test_a_page_costs_one_read_of_its_folder_and_one_of_its_children_then_none() -> None:
    members = [(f"dir{i % 40}/file-{i:06d}-{'p' * 40}.txt", "file") for i in range(20_000)]
    members += [(f"top{i}.txt", "file") for i in range(300)]
    indexed = index_of(odd_zip(members))
    row = IndexDirectory.from_bytes(indexed.directory.to_bytes())  # as kept in the database
    sidecar = CountingSource(BytesSource(indexed.sidecar))
    cache = BucketCache()
    for folder, offset in (("", 0), ("", 200), ("dir7", 0), ("dir7", 400)):
        sidecar.reset()
        page = indexed_folder(row, sidecar, folder, gitlab=False, offset=offset, limit=100)
        assert len(page.entries) == 100
        # The folder's bucket, then its list (small) or its page table and the pages.
        assert 2 <= sidecar.requests <= 3, sidecar.calls
        assert sidecar.bytes_read < 96 << 10
        sidecar.reset()
        again = indexed_folder(row, sidecar, folder, gitlab=True, offset=offset, limit=100)
        assert len(again.entries) == 100
        sidecar.reset()
        cached = indexed_folder(row, sidecar, folder, gitlab=False, offset=offset, limit=100)
        assert cached == indexed_folder(
            row, BytesSource(indexed.sidecar), folder, gitlab=False, offset=offset, limit=100
        )
    warm = CountingSource(BytesSource(indexed.sidecar))
    for _ in range(2):
        indexed_folder(row, warm, "dir3", gitlab=True, offset=0, limit=20, cache=cache)
    assert warm.requests == 2  # the folder's bucket and its list; then both from the cache


def test_the_directory_with_a_tree_reads_back_from_the_sidecar_and_the_row() -> None:
    indexed = index_of(odd_zip(HOSTILE))
    assert read_directory(BytesSource(indexed.sidecar)) == indexed.directory
    assert IndexDirectory.from_bytes(indexed.directory.to_bytes()) == indexed.directory
    assert indexed.directory.sidecar_size == len(indexed.sidecar)


def test_sorts_that_spill_list_as_the_bucket_walk_lists_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Runs of a few KiB: the archive's items spill into many runs, and a large folder's own
    # re-sort (ours) spills too, as a million-entry archive's would.
    monkeypatch.setattr(treebuild, "RUN_BYTES", 4096)
    monkeypatch.setattr(treebuild, "_OURS_IN_MEMORY", 2048)
    members = HOSTILE + [(f"many/{i % 7}-{i}.txt", "file") for i in range(600)]
    members += [(f"many/{i}/", "dir") for i in range(0, 600, 13)]
    folders = {"", "a", "a/b", "many", "many/13", "d", "q", "q/r", "été", "nope"}
    assert assert_same_listings(odd_zip(members), folders) > 0


def test_an_external_sort_gives_back_every_item_in_order_through_a_merge_of_merges() -> None:
    rng = random.Random(3)
    items = [rng.randbytes(rng.randrange(0, 300)) for _ in range(5000)]
    with SortedRuns(run_bytes=8192, fan_in=3, block=512) as runs:
        for item in items:
            runs.add(item)
        assert list(runs) == sorted(items)
