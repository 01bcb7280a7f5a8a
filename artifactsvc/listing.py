"""One page of a folder's listing, in two orders: from the index's tree section
(`indexed_folder`: a folder bucket and one read, whatever the archive's size), or out of an
archive's entries (`list_folder`, `gitlab_folder`: pure, no I/O; recursive listings, and
indexes built before the tree section existed, walk every bucket through these).

`list_folder` is ours (`artifacts_tree`): every entry, repeats included, sorted by path.
`gitlab_folder` is GitLab's (`artifacts/tree`), as its metadata file gives it: each name once
(the first, which is also the one a file route serves), entries whose names climb out of the
archive left out, folders before files unless recursive, sorted by path with a trailing `/`
on folders, and FolderNotFound for a folder the archive does not hold.

Entries come in no particular order (bucket by bucket from the index); folders that only
deeper paths imply are included. Memory is bounded by the window (`offset + limit` entries),
a key of bounded size per folder seen (capped: TooManyFolders) and, for `gitlab_folder`, one
bucket's names; never by the archive's size nor by how deep its paths go.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from artifactsvc.errors import FolderNotFound, ListingTooLarge, TooManyFolders
from artifactsvc.ziprange import BucketCache, Entry, EntryKind, IndexDirectory, RangeSource
from artifactsvc.ziprange.tree import EMPTY, find_folder, prefix_of, read_children

# A listing page is sorted by path, so building it holds page * per_page entries at most.
MAX_LISTING_WINDOW = 50_000
DEFAULT_MAX_FOLDERS = 250_000
# GitLab's Metadata::INVALID_PATH_PATTERN: a leading `/`, `./` or `../`, or an empty, `.` or
# `..` segment inside: such entries are not in GitLab's listing at all.
_CLIMBS = re.compile(r"(^\.?\.?/)|(/\.?\.?/)")


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


def indexed_folder(
    directory: IndexDirectory,
    sidecar: RangeSource,
    folder: str,
    *,
    gitlab: bool,
    offset: int,
    limit: int,
    cache: BucketCache | None = None,
) -> TreePage:
    """One page of the folder's direct children from the index's tree section: the same page
    `list_folder` (ours) or `gitlab_folder` (`gitlab`) gives non-recursively, read from the
    folder's own sorted list (one folder bucket and one read, both cached) instead of a walk
    of every bucket. FolderNotFound as `gitlab_folder` raises it."""
    found = find_folder(directory, sidecar, folder, cache)
    if gitlab and folder and (found is None or not found.found):
        raise FolderNotFound()
    children = EMPTY if found is None else found.gitlab if gitlab else found.ours
    page = read_children(directory, sidecar, children, prefix_of(folder), offset, limit, cache)
    return TreePage(
        [
            TreeEntry(child.path, "directory", None)
            if child.entry is None
            else TreeEntry(child.path, KINDS[child.entry.kind], child.entry)
            for child in page
        ],
        children.total,
    )


def list_folder(
    entries: Iterable[Entry],
    folder: str,
    *,
    recursive: bool,
    offset: int,
    limit: int,
    max_folders: int = DEFAULT_MAX_FOLDERS,
) -> TreePage:
    prefix = f"{folder}/" if folder else ""
    page = _Page(offset, limit, max_folders, gitlab=False)
    for entry in entries:
        name = entry.name.rstrip("/")
        if not name.startswith(prefix) or name == folder:
            continue
        if not page.imply(name, len(prefix), recursive=recursive):
            continue
        if entry.kind == EntryKind.DIRECTORY:
            page.explicit(name)
        page.offer(name, KINDS[entry.kind], entry)
    return page.result()


def gitlab_folder(
    buckets: Iterable[Iterable[Entry]],
    folder: str,
    *,
    recursive: bool,
    offset: int,
    limit: int,
    max_folders: int = DEFAULT_MAX_FOLDERS,
) -> TreePage:
    prefix = f"{folder}/" if folder else ""
    found = not folder  # the root always exists, even in an empty archive
    page = _Page(offset, limit, max_folders, gitlab=True, recursive=recursive)
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
            if not page.imply(name, len(prefix), recursive=recursive):
                continue
            if directory:
                page.explicit(name)
            page.offer(name, KINDS[entry.kind], entry)
    if not found:
        raise FolderNotFound()
    return page.result()


# A folder's key in the sets: its path while short (cheaper than hashing it), else a 16-byte
# digest of it; a str never equals bytes, so the two kinds cannot collide. Either way a few
# dozen bytes a folder, however deep the path.
_SHORT = 64


def _folder_key(path: str) -> str | bytes:
    if len(path) <= _SHORT:
        return path
    return hashlib.blake2b(path.encode("utf-8"), digest_size=16).digest()


class _Page:
    """One listing page being built: entries in a window, and the folders deeper paths imply.

    A folder is remembered by a key of bounded size (`_folder_key`: its path while short, else
    a 16-byte digest of it), never by a long path: an entry `a/a/.../x` of depth d implies d
    folders whose paths add up to d * d / 2 bytes, so keeping the paths made one 131 KB upload
    cost 1.3 GB. Digests are computed incrementally (one pass over the name), and the folders
    waiting in the window are keys over the name they
    come from (`_Key`), cut out only to be compared and, for the page, shown. The digests are
    capped at `max_folders` (TooManyFolders).

    Implied folders wait in a window of their own: one that turns out to be an explicit entry
    too (a directory entry, seen before or after) is dropped at the end. Each window keeps
    the `offset + limit` smallest keys, which is enough: an implied folder on the page has
    fewer than that many smaller implied ones (its smaller twins are explicit entries, and so
    on the page's side of the count too).
    """

    def __init__(
        self, offset: int, limit: int, max_folders: int, *, gitlab: bool, recursive: bool = False
    ) -> None:
        self._offset = offset
        self._limit = limit
        self._max = max_folders
        self._gitlab = gitlab
        self._recursive = recursive
        self._items = _Window(offset + limit)
        self._implied_items = _Window(offset + limit)
        self._implied: set[str | bytes] = set()
        self._explicit: set[str | bytes] = set()

    def _key(self, name: str, cut: int, directory: bool) -> _Key:
        if not self._gitlab:
            return _Key(0, name, cut, slash=False)
        # GitLab's metadata spells folders with a trailing slash, and sorts by those bytes.
        group = 0 if directory or self._recursive else 1
        return _Key(group, name, cut, slash=directory)

    def offer(self, path: str, kind: str, entry: Entry) -> None:
        key = self._key(path, len(path), kind == "directory")
        self._items.offer(key, TreeEntry(path, kind, entry))

    def explicit(self, name: str) -> None:
        self._explicit.add(_folder_key(name))
        self._check()

    def imply(self, name: str, start: int, *, recursive: bool) -> bool:
        """Record the folders `name` implies below `start`; True when the entry itself is on
        this listing (recursive, or directly in the folder)."""
        cut = name.find("/", start)
        if cut < 0:
            return True
        hasher: Any = None  # over name[:done], once the paths are past _SHORT
        done = 0
        offering = True
        while cut >= 0:
            if cut <= _SHORT:
                key: str | bytes = name[:cut]
            else:
                if hasher is None:
                    hasher = hashlib.blake2b(digest_size=16)
                hasher.update(name[done:cut].encode("utf-8"))
                done = cut
                key = hasher.copy().digest()
            if key not in self._implied:
                self._implied.add(key)
                self._check()
                # Deeper folders of this name sort after this one: once one is refused by a
                # full window, so are they (their keys are still recorded).
                if offering:
                    sort_key = self._key(name, cut, True)
                    offering = self._implied_items.accepts(sort_key)
                    if offering:
                        self._implied_items.offer(sort_key, None, tag=key)
            if not recursive:
                return False
            cut = name.find("/", cut + 1)
        return True

    def _check(self) -> None:
        if len(self._implied) + len(self._explicit) > self._max:
            raise TooManyFolders(f"more than {self._max} folders; list a subfolder instead")

    def result(self) -> TreePage:
        implied = [kept for kept in self._implied_items.kept() if kept.tag not in self._explicit]
        merged = sorted([*self._items.kept(), *implied], key=lambda d: d.key)
        total = self._items.total + len(self._implied - self._explicit)
        window = merged[self._offset : self._offset + self._limit]
        return TreePage(
            [d.item or TreeEntry(d.key.path(), "directory", None) for d in window], total
        )


class _Key:
    """A sort key over a prefix of a name (`name[:cut]`, a `/` added for GitLab's folders),
    after a group: the folders of one deep name share that name in the window instead of
    each holding a copy of its path; the prefix is cut out only to compare."""

    __slots__ = ("cut", "group", "name", "slash")

    def __init__(self, group: int, name: str, cut: int, *, slash: bool) -> None:
        self.group = group
        self.name = name
        self.cut = cut
        self.slash = slash

    def path(self) -> str:
        return self.name if self.cut == len(self.name) else self.name[: self.cut]

    def _text(self) -> str:
        return self.path() + "/" if self.slash else self.path()

    def __lt__(self, other: _Key) -> bool:
        if self.group != other.group:
            return self.group < other.group
        return self._text() < other._text()


KINDS = {EntryKind.FILE: "file", EntryKind.DIRECTORY: "directory", EntryKind.SYMLINK: "symlink"}


class _Window:
    """The `size` smallest items by key seen so far (a max-heap), and how many were offered."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._heap: list[_Desc] = []
        self.total = 0

    def accepts(self, key: _Key) -> bool:
        """Whether an item of this key would be kept now."""
        return len(self._heap) < self._size or key < self._heap[0].key

    def offer(self, key: _Key, item: TreeEntry | None, *, tag: str | bytes = b"") -> None:
        self.total += 1
        heapq.heappush(self._heap, _Desc(key, item, tag))
        if len(self._heap) > self._size:
            heapq.heappop(self._heap)

    def kept(self) -> list[_Desc]:
        return list(self._heap)


class _Desc:
    """Reverses the order so heapq's min-heap keeps the smallest keys (pops the largest)."""

    __slots__ = ("item", "key", "tag")

    def __init__(self, key: _Key, item: TreeEntry | None, tag: str | bytes = b"") -> None:
        self.key = key
        self.item = item
        self.tag = tag

    def __lt__(self, other: _Desc) -> bool:
        return other.key < self.key
