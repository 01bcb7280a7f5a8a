"""One page of a folder's listing out of an archive's entries (pure, no I/O), in two orders.

`list_folder` is ours (`artifacts_tree`): every entry, repeats included, sorted by path.
`gitlab_folder` is GitLab's (`artifacts/tree`), as its metadata file gives it: each name once
(the first, which is also the one a file route serves), entries whose names climb out of the
archive left out, folders before files unless recursive, sorted by path with a trailing `/`
on folders, and FolderNotFound for a folder the archive does not hold.

Entries come in no particular order (bucket by bucket from the index); folders that only
deeper paths imply are included. Memory is bounded by the window (`offset + limit` entries),
the folders seen and, for `gitlab_folder`, one bucket's names, never by the archive's size.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from artifactsvc.errors import FolderNotFound, ListingTooLarge
from artifactsvc.ziprange import Entry, EntryKind

# A listing page is sorted by path, so building it holds page * per_page entries at most.
MAX_LISTING_WINDOW = 50_000
# GitLab's Metadata::INVALID_PATH_PATTERN: a leading `/`, `./` or `../`, or an empty, `.` or
# `..` segment inside: such entries are not in GitLab's listing at all.
_CLIMBS = re.compile(r"(^\.?\.?/)|(/\.?\.?/)")

K = TypeVar("K", str, tuple[int, str])


@dataclass(frozen=True)
class TreeEntry:
    path: str  # without a trailing slash
    kind: str  # "file", "directory" or "symlink"
    entry: Entry | None  # None for a folder implied by deeper paths


@dataclass(frozen=True)
class TreePage:
    entries: list[TreeEntry]
    total: int


def check_window(offset: int, limit: int) -> None:
    """ListingTooLarge for a page too far into one folder (list a subfolder instead)."""
    if offset + limit > MAX_LISTING_WINDOW:
        raise ListingTooLarge()


def list_folder(
    entries: Iterable[Entry], folder: str, *, recursive: bool, offset: int, limit: int
) -> TreePage:
    prefix = f"{folder}/" if folder else ""
    implied: set[str] = set()
    # Only folder entries: a set of every name would grow with the archive.
    explicit: set[str] = set()
    window: _Window[str] = _Window(offset + limit)
    for entry in entries:
        name = entry.name.rstrip("/")
        if not name.startswith(prefix) or name == folder:
            continue
        parts = name[len(prefix) :].split("/")
        if not recursive and len(parts) > 1:
            implied.add(prefix + parts[0])
            continue
        for depth in range(1, len(parts)):
            implied.add(prefix + "/".join(parts[:depth]))
        if entry.kind == EntryKind.DIRECTORY:
            explicit.add(name)
        window.offer(name, TreeEntry(name, KINDS[entry.kind], entry))
    for child in implied - explicit:
        window.offer(child, TreeEntry(child, "directory", None))
    return window.page(offset, limit)


def gitlab_folder(
    buckets: Iterable[Iterable[Entry]], folder: str, *, recursive: bool, offset: int, limit: int
) -> TreePage:
    prefix = f"{folder}/" if folder else ""
    found = not folder  # the root always exists, even in an empty archive
    implied: set[str] = set()
    explicit: set[str] = set()
    window: _Window[tuple[int, str]] = _Window(offset + limit)

    def offer(path: str, kind: str, entry: Entry | None) -> None:
        directory = kind == "directory"
        # GitLab's metadata spells folders with a trailing slash, and sorts by those bytes.
        group = 0 if directory or recursive else 1
        window.offer((group, path + "/" if directory else path), TreeEntry(path, kind, entry))

    for bucket in buckets:
        names: set[tuple[str, bool]] = set()  # every entry of one name is in one bucket
        for entry in bucket:
            if _CLIMBS.search(entry.name):
                continue
            directory = entry.kind == EntryKind.DIRECTORY
            name = entry.name.rstrip("/")
            if (name, directory) in names:
                continue
            names.add((name, directory))
            if name == folder and directory:
                found = True
            if not name.startswith(prefix) or name == folder:
                continue
            found = True
            parts = name[len(prefix) :].split("/")
            if not recursive and len(parts) > 1:
                implied.add(prefix + parts[0])
                continue
            for depth in range(1, len(parts)):
                implied.add(prefix + "/".join(parts[:depth]))
            if directory:
                explicit.add(name)
            offer(name, KINDS[entry.kind], entry)
    if not found:
        raise FolderNotFound()
    for child in implied - explicit:
        offer(child, "directory", None)
    return window.page(offset, limit)


KINDS = {EntryKind.FILE: "file", EntryKind.DIRECTORY: "directory", EntryKind.SYMLINK: "symlink"}


class _Window(Generic[K]):
    """The `size` smallest items by key seen so far (a max-heap), and how many were offered."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._heap: list[_Desc[K]] = []
        self.total = 0

    def offer(self, key: K, item: TreeEntry) -> None:
        self.total += 1
        heapq.heappush(self._heap, _Desc(key, item))
        if len(self._heap) > self._size:
            heapq.heappop(self._heap)

    def page(self, offset: int, limit: int) -> TreePage:
        ordered = sorted(self._heap, key=lambda d: d.key)
        return TreePage([d.item for d in ordered][offset : offset + limit], self.total)


class _Desc(Generic[K]):
    """Reverses the order so heapq's min-heap keeps the smallest keys (pops the largest)."""

    __slots__ = ("item", "key")

    def __init__(self, key: K, item: TreeEntry) -> None:
        self.key: K = key
        self.item = item

    def __lt__(self, other: _Desc[K]) -> bool:
        return bool(self.key > other.key)
