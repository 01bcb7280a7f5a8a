"""One page of a folder's listing out of an archive's entries (pure, no I/O).

Entries come in no particular order (bucket by bucket from the index); the page is sorted by
path and includes folders that only deeper paths imply. Memory is bounded by the window
(`offset + limit` entries) and the folders seen, never by the archive's size.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from artifactsvc.errors import ListingTooLarge
from artifactsvc.ziprange import Entry, EntryKind

# A listing page is sorted by path, so building it holds page * per_page entries at most.
MAX_LISTING_WINDOW = 50_000


@dataclass(frozen=True)
class TreeEntry:
    path: str
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
    window: list[_Desc] = []  # a max-heap of the smallest paths seen
    total = 0

    def offer(item: TreeEntry) -> None:
        nonlocal total
        total += 1
        heapq.heappush(window, _Desc(item))
        if len(window) > offset + limit:
            heapq.heappop(window)

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
        offer(TreeEntry(name, KINDS[entry.kind], entry))
    for child in sorted(implied - explicit):
        offer(TreeEntry(child, "directory", None))
    ordered = sorted(window, key=lambda d: d.item.path)
    return TreePage([d.item for d in ordered][offset : offset + limit], total)


KINDS = {EntryKind.FILE: "file", EntryKind.DIRECTORY: "directory", EntryKind.SYMLINK: "symlink"}


class _Desc:
    """Reverses the order so heapq's min-heap keeps the smallest paths (pops the largest)."""

    __slots__ = ("item",)

    def __init__(self, item: TreeEntry) -> None:
        self.item = item

    def __lt__(self, other: _Desc) -> bool:
        return self.item.path > other.item.path
