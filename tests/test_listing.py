"""Listing pages (listing.py) against a plain reference that keeps every folder's full path:
the same pages and totals, for random archives with deep, long and repeated names, folder
entries before and after the files that imply them, and every page of a window."""

from __future__ import annotations

import random

import pytest

from artifactsvc.errors import TooManyFolders
from artifactsvc.listing import gitlab_folder, list_folder
from artifactsvc.ziprange import Entry, EntryKind


def entry(name: str) -> Entry:
    kind = EntryKind.DIRECTORY if name.endswith("/") else EntryKind.FILE
    return Entry(name, name.encode(), 0, 1, 1, 0, 0, 0, 0o100644, kind, 0)


def reference(
    entries: list[Entry], folder: str, *, recursive: bool, gitlab: bool
) -> list[tuple[str, str]]:
    """Every (path, kind) of the listing, sorted, with the implied folders spelled out."""
    prefix = f"{folder}/" if folder else ""
    items: list[tuple[object, str, str]] = []
    implied: set[str] = set()
    explicit: set[str] = set()
    for e in entries:
        name = e.name.rstrip("/")
        if not name.startswith(prefix) or name == folder:
            continue
        parts = name[len(prefix) :].split("/")
        if not recursive and len(parts) > 1:
            implied.add(prefix + parts[0])
            continue
        implied.update(prefix + "/".join(parts[:d]) for d in range(1, len(parts)))
        kind = "directory" if e.kind == EntryKind.DIRECTORY else "file"
        if kind == "directory":
            explicit.add(name)
        items.append((sort_key(name, kind, recursive, gitlab), name, kind))
    for path in implied - explicit:
        items.append((sort_key(path, "directory", recursive, gitlab), path, "directory"))
    return [(path, kind) for _, path, kind in sorted(items)]


def sort_key(path: str, kind: str, recursive: bool, gitlab: bool) -> object:
    if not gitlab:
        return (0, path)
    directory = kind == "directory"
    return (0 if directory or recursive else 1, path + "/" if directory else path)


def random_names(rng: random.Random) -> list[str]:
    segments = ["a", "b", "ab", "a-b", "a.b", "x" * 70, "é", "b0"]
    names = []
    for _ in range(rng.randrange(1, 60)):
        depth = rng.choice([1, 2, 3, 5, 40])
        name = "/".join(rng.choice(segments) for _ in range(depth))
        # Files get a suffix: a file and a folder of one name would tie, in any order.
        names.append(name + "/" if rng.random() < 0.2 else name + ".f")
    return names


@pytest.mark.parametrize("seed", range(40))
def test_pages_and_totals_match_a_listing_that_keeps_every_path(seed: int) -> None:
    rng = random.Random(seed)
    names = random_names(rng)
    # No repeated names: GitLab's listing keeps the first of each, ours keeps them all.
    entries = [entry(name) for name in dict.fromkeys(names)]
    rng.shuffle(entries)
    for folder in ("", "a", "a/b"):
        for recursive in (False, True):
            for gitlab in (False, True):
                expected = reference(entries, folder, recursive=recursive, gitlab=gitlab)
                for offset, limit in ((0, 5), (3, 4), (0, 1000), (len(expected) - 2, 7)):
                    offset = max(offset, 0)
                    if gitlab:
                        if folder and not any(e.name.startswith(f"{folder}/") for e in entries):
                            continue
                        page = gitlab_folder(
                            [entries], folder, recursive=recursive, offset=offset, limit=limit
                        )
                    else:
                        page = list_folder(
                            entries, folder, recursive=recursive, offset=offset, limit=limit
                        )
                    got = [(item.path, item.kind) for item in page.entries]
                    assert got == expected[offset : offset + limit], (folder, recursive, gitlab)
                    assert page.total == len(expected)


def test_an_explicit_folder_entry_replaces_its_implied_twin_whichever_comes_first() -> None:
    for names in (["a/b/c.txt", "a/", "a/b/"], ["a/", "a/b/", "a/b/c.txt"]):
        page = list_folder([entry(n) for n in names], "", recursive=True, offset=0, limit=10)
        assert [(i.path, i.kind, i.entry is not None) for i in page.entries] == [
            ("a", "directory", True),
            ("a/b", "directory", True),
            ("a/b/c.txt", "file", True),
        ]
        assert page.total == 3


def test_a_listing_holding_more_folders_than_its_bound_is_refused() -> None:
    entries = [entry(f"d{i}/f.txt") for i in range(101)]

    assert list_folder(entries, "", recursive=False, offset=0, limit=5, max_folders=101).total
    with pytest.raises(TooManyFolders, match="more than 100 folders"):
        list_folder(entries, "", recursive=False, offset=0, limit=5, max_folders=100)
    with pytest.raises(TooManyFolders):
        gitlab_folder([entries], "", recursive=True, offset=0, limit=5, max_folders=100)
