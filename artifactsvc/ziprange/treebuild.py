"""Build the tree section (`tree`) with memory bounded by constants, never by the entry count.

Every entry becomes an item of two external sorts (`runs.SortedRuns`), one per listing order,
and so does each folder its name implies (once per change of folder between consecutive
entries, so a folder of a thousand files costs one item, not a thousand). An item is a byte
string whose byte order is the listing's order:

    ours    folder prefix | name | 0, archive index | child record     (an entry)
            folder prefix | name | 1                                   (an implied folder)
    GitLab  folder prefix | group | name (+ `/` for folders) | the same tail
            folder prefix | 0                        (the folder exists: a directory entry)

with group 1 for folders, 2 for files and symlinks, and every variable part escaped (NUL as
NUL 0xFF) and ended by NUL NUL, so that a part never runs into the next and one folder's items
are contiguous. Read back in order, each folder's children come out sorted, repeats of one
name adjacent and in archive order, an implied folder after the entries of its name: ours
keeps every entry and an implied folder only when no directory entry has its name; GitLab's
keeps the first item of each name and group. Lists are written as they come; each folder's
summary goes to a spill file in the same folder order, the two summaries are joined, and the
fixed-size folder records are scattered into folder buckets (`scatter`).
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from artifactsvc.ziprange.central import Entry, EntryKind
from artifactsvc.ziprange.control import WorkControl
from artifactsvc.ziprange.runs import SortedRuns
from artifactsvc.ziprange.scatter import scatter
from artifactsvc.ziprange.tree import (
    EMPTY,
    FOLDER,
    PAGE,
    ChildList,
    encode_child,
    encode_folder,
    encode_implied,
    folder_bucket,
    folder_hash,
)

# GitLab's Metadata::INVALID_PATH_PATTERN (see `listing`), on the name's UTF-8.
CLIMBS = re.compile(rb"(^\.?\.?/)|(/\.?\.?/)")
TARGET_FOLDER_BUCKET_BYTES = 16 << 10
_END = b"\x00\x00"
_ENTRY = b"\x00"
_IMPLIED = b"\x01" + bytes(8)
_TIE = struct.Struct(">Q")
_DIR_GROUP = b"\x01"
_FILE_GROUP = b"\x02"
_MARKER = b"\x00"
_SUMMARY = struct.Struct("<IQQQB")
_TAG = struct.Struct("<II")
_FLUSH = 1 << 20


def _esc(part: bytes) -> bytes:
    return part.replace(b"\x00", b"\x00\xff") if b"\x00" in part else part


def _unesc(part: bytes) -> bytes:
    return part.replace(b"\x00\xff", b"\x00") if b"\x00" in part else part


class TreeBuilder:
    """Collects entries in archive order (`add`), then writes the section (`write`)."""

    def __init__(self, spill_dir: str | None = None) -> None:
        self._spill_dir = spill_dir
        self._ours = SortedRuns(spill_dir)
        self._gitlab = SortedRuns(spill_dir)
        # The folder prefix of the last entry each order took: its folders are all out.
        self._last_ours = b""
        self._last_gitlab = b""

    def close(self) -> None:
        self._ours.close()
        self._gitlab.close()

    def __enter__(self) -> TreeBuilder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, entry: Entry, key: bytes, index: int) -> None:
        """Entry number `index` of the archive; `key` is its name's UTF-8 (`entry.key`)."""
        name = key.rstrip(b"/")
        if not name:
            return  # `/` alone: on no listing, as before
        cut = name.rfind(b"/") + 1
        folder = name[:cut]
        base = _esc(name[cut:])
        head = _esc(folder) + _END
        tail = _ENTRY + _TIE.pack(index) + encode_child(entry, key, cut)
        self._ours.add(head + base + _END + tail)
        if folder != self._last_ours:
            self._imply(self._ours, name, self._last_ours, gitlab=False)
            self._last_ours = folder
        if CLIMBS.search(key):
            return
        if entry.kind == EntryKind.DIRECTORY:
            self._gitlab.add(head + _DIR_GROUP + base + b"/" + _END + tail)
            self._gitlab.add(_esc(name) + b"/" + _END + _MARKER)
        else:
            self._gitlab.add(head + _FILE_GROUP + base + _END + tail)
        if folder != self._last_gitlab:
            self._imply(self._gitlab, name, self._last_gitlab, gitlab=True)
            self._last_gitlab = folder

    @staticmethod
    def _imply(runs: SortedRuns, name: bytes, last: bytes, *, gitlab: bool) -> None:
        """An item for each folder of `name` the last entry's folders did not cover: those
        ending at a `/` past the common start of `name` and the last entry's prefix."""
        start = len(last) if name.startswith(last) else len(os.path.commonprefix([name, last]))
        cut = name.find(b"/", start)
        while cut >= 0:
            folder = name[:cut]
            parent = folder.rfind(b"/") + 1
            head = _esc(folder[:parent]) + _END
            base = _esc(folder[parent:])
            if gitlab:
                runs.add(head + _DIR_GROUP + base + b"/" + _END + _IMPLIED)
            else:
                runs.add(head + base + _END + _IMPLIED)
            cut = name.find(b"/", cut + 1)

    def write(
        self, out: BinaryIO, salt: bytes, control: WorkControl | None = None
    ) -> tuple[int, tuple[int, ...]]:
        """Write the section to `out` from its position 0; (length, folder bucket offsets)."""
        out.seek(0)
        out.truncate(0)
        with (
            tempfile.TemporaryFile(dir=self._spill_dir) as ours,
            tempfile.TemporaryFile(dir=self._spill_dir) as gitlab,
        ):
            n_ours = _write_lists(iter(self._ours), out, ours, gitlab=False, control=control)
            n_gitlab = _write_lists(iter(self._gitlab), out, gitlab, gitlab=True, control=control)
            folders = max(n_ours, n_gitlab)
            buckets = max(1, -(-folders * FOLDER.size // TARGET_FOLDER_BUCKET_BYTES))
            ours.seek(0)
            gitlab.seek(0)
            with tempfile.TemporaryFile(dir=self._spill_dir) as spill:
                sizes = [0] * buckets
                for prefix, mine, theirs, found in _join(_summaries(ours), _summaries(gitlab)):
                    digest = folder_hash(prefix, salt)
                    bucket = folder_bucket(digest, buckets)
                    sizes[bucket] += FOLDER.size
                    spill.write(_TAG.pack(bucket, FOLDER.size))
                    spill.write(encode_folder(digest, found, mine, theirs))
                start = out.seek(0, os.SEEK_END)
                offsets = [start]
                for size in sizes:
                    offsets.append(offsets[-1] + size)
                spill.seek(0)
                scatter(spill, out, offsets)
        return offsets[-1], tuple(offsets)


def _write_lists(
    items: Iterator[bytes],
    out: BinaryIO,
    summaries: BinaryIO,
    *,
    gitlab: bool,
    control: WorkControl | None,
) -> int:
    """Each folder's children list from one sorted stream, written to `out` at its end; each
    folder's summary to `summaries`. Returns the number of folders."""
    folders = 0
    current: bytes | None = None
    group: bytes | None = None
    keep = False  # ours: the name's implied folder is still wanted (no directory entry)
    found = False
    buf = bytearray()
    written = out.seek(0, os.SEEK_END)
    start = count = size = 0
    pages: list[int] = []

    def close() -> None:
        nonlocal buf, written, folders
        pages.append(size)
        buf += struct.pack(f"<{len(pages)}Q", *pages)
        summaries.write(_SUMMARY.pack(len(current or b""), start, count, size, found))
        summaries.write(current or b"")
        folders += 1

    for n, item in enumerate(items):
        if control is not None and n % 4096 == 0:
            control.step()
        end = item.find(_END)
        prefix = item[:end]
        if prefix != current:
            if current is not None:
                close()
            if len(buf) >= _FLUSH:
                out.write(buf)
                written += len(buf)
                buf = bytearray()
            current, group = prefix, None
            start = written + len(buf)
            count = size = 0
            found = False
            pages = []
        at = end + 2
        if gitlab and item[at] == 0:
            found = True
            continue
        name_end = item.find(_END, at)
        name = item[at:name_end]
        implied = item[name_end + 2] == 1
        record: bytes
        if name != group:
            group = name
            keep = True
        elif gitlab:
            continue  # a repeat of the name: GitLab's listing shows the first only
        if implied:
            if not keep:
                continue
            keep = False
            bare = name[1:-1] if gitlab else name
            record = encode_implied(_unesc(bare))
        else:
            record = item[name_end + 11 :]
            if record[5] & 0x7F == EntryKind.DIRECTORY:
                keep = False
        if count % PAGE == 0:
            pages.append(size)
        buf += record
        count += 1
        size += len(record)
    if current is not None:
        close()
    out.write(buf)
    return folders


def _summaries(spill: BinaryIO) -> Iterator[tuple[bytes, ChildList, bool]]:
    while head := spill.read(_SUMMARY.size):
        length, offset, count, size, found = _SUMMARY.unpack(head)
        yield spill.read(length), ChildList(offset, count, size), bool(found)


def _join(
    ours: Iterator[tuple[bytes, ChildList, bool]], gitlab: Iterator[tuple[bytes, ChildList, bool]]
) -> Iterator[tuple[bytes, ChildList, ChildList, bool]]:
    """Both orders' summaries of each folder, by escaped prefix (both come in one order)."""
    mine, theirs = next(ours, None), next(gitlab, None)
    while mine is not None or theirs is not None:
        a = mine[0] + _END if mine is not None else None
        b = theirs[0] + _END if theirs is not None else None
        if b is None or (a is not None and a < b):
            assert mine is not None
            yield _unesc(mine[0]), mine[1], EMPTY, False
            mine = next(ours, None)
        elif a is None or b < a:
            assert theirs is not None
            yield _unesc(theirs[0]), EMPTY, theirs[1], theirs[2] or theirs[1].total > 0
            theirs = next(gitlab, None)
        else:
            assert mine is not None and theirs is not None
            yield _unesc(mine[0]), mine[1], theirs[1], theirs[2] or theirs[1].total > 0
            mine, theirs = next(ours, None), next(gitlab, None)
