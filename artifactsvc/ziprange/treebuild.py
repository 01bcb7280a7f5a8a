"""Build the tree section (`tree`) with memory bounded by constants, never by the entry count.

Every entry becomes an item of one external sort (`runs.SortedRuns`), and so does each folder
its name implies (once per change of folder between consecutive entries, so a folder of a
thousand files costs one item, not a thousand). An item is a byte string whose byte order is
GitLab's listing order within each folder:

    folder prefix | group | name (+ `/` in group 1) | 0 | archive index | shown | record
    folder prefix | 1 | name | `/` | 1 | shown                           (an implied folder)

with group 0 for "this folder has a directory entry" (nothing follows), 1 for folders, 2 for
files and symlinks; the kind byte puts a name's entries before its implied folder; shown 1
when the name is on GitLab's listing (it does not climb: `CLIMBS`). Prefix and name are
escaped (NUL as NUL 0xFF) and ended by NUL NUL, so a part never runs into the next and one
folder's items are contiguous. Read back in order, a folder's children come out in GitLab's
order, repeats of one name adjacent and in archive order, an implied folder after the entries
of its name: GitLab's list keeps the first shown item of each name and group, written as it
comes. Ours (every entry, an implied folder only when no directory entry has its name, sorted
by path) is the same children in another order: each folder's are sorted again on their own
(in memory, or spilled for a folder too large for that) and written after GitLab's. Folder
records (fixed size) are spilled as they come and scattered into folder buckets at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterable
from typing import BinaryIO

from artifactsvc.ziprange.central import Entry, EntryKind
from artifactsvc.ziprange.control import WorkControl
from artifactsvc.ziprange.index import RECORD
from artifactsvc.ziprange.runs import SortedRuns
from artifactsvc.ziprange.scatter import scatter
from artifactsvc.ziprange.tree import (
    FOLDER,
    PAGE,
    TAG_ENTRY,
    ChildList,
    encode_folder,
    encode_implied,
    folder_bucket,
    folder_hash,
)

# GitLab's Metadata::INVALID_PATH_PATTERN (see `listing`), on the name's UTF-8.
CLIMBS = re.compile(rb"(^\.?\.?/)|(/\.?\.?/)")
TARGET_FOLDER_BUCKET_BYTES = 16 << 10
_END = b"\x00\x00"
_DIR_HEAD = _END + b"\x01"
_FILE_HEAD = _END + b"\x02"
_DIR_END = b"/" + _END
_FILE_END = _END
_MARKER = b"/" + _END + b"\x00"
_TIE = struct.Struct(">Q")
_ENTRY = b"\x00"
_IMPLIED = b"\x01"
_SHOWN = b"\x01"
_HIDDEN = b"\x00"
_TAG = struct.Struct("<II")
_U16 = struct.Struct("<H")
HEAD = RECORD.size
_CHILD = bytes([TAG_ENTRY])
_FLUSH = 1 << 20
# What a sort holds before it spills a run (Python's per-object overhead counted).
RUN_BYTES = 4 << 20
_OURS_IN_MEMORY = 4 << 20


# `find`, not `in`, for a bytes needle: CPython's bytes `in` first tries the needle as an int,
# raising and clearing a TypeError each time (callgrind: ~4% of a whole index build).


def _esc(part: bytes) -> bytes:
    return part.replace(b"\x00", b"\x00\xff") if part.find(b"\x00") >= 0 else part


def _unesc(part: bytes) -> bytes:
    return part.replace(b"\x00\xff", b"\x00") if part.find(b"\x00") >= 0 else part


class TreeBuilder:
    """Collects entries in archive order (`add`), then writes the section (`write`)."""

    def __init__(self, spill_dir: str | None = None) -> None:
        self._spill_dir = spill_dir
        self._items = SortedRuns(spill_dir, run_bytes=RUN_BYTES)
        # The folder prefix of the last entry (of any name / of a shown name) whose folders
        # are all out already.
        self._last_any = b""
        self._last_shown = b""
        # Items go to the sort in batches: a method call per item costs more than the item.
        self._batch: list[bytes] = []
        self._batch_bytes = 0

    def close(self) -> None:
        self._items.close()

    def __enter__(self) -> TreeBuilder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, entry: Entry, key: bytes, index: int, record: bytes) -> None:
        """Entry number `index` of the archive; `key` is its name's UTF-8 (`entry.key`),
        `record` its index record (`index.encode_record`), whose fields its child record
        shares (`tree.encode_child`, spliced here rather than packed a second time)."""
        name = key.rstrip(b"/")
        if not name:
            return  # `/` alone: on no listing, as before
        cut = name.rfind(b"/") + 1
        folder = name[:cut]
        base = name[cut:]
        if name.find(b"\x00") >= 0:
            folder_key, base = _esc(folder), _esc(base)
        else:
            folder_key = folder
        # Every name that climbs holds `./` or `//` or starts with `/`: most skip the regex.
        shown = not (
            (key[:1] == b"/" or key.find(b"./") >= 0 or key.find(b"//") >= 0)
            and CLIMBS.search(key) is not None
        )
        batch = self._batch
        directory = entry.kind == EntryKind.DIRECTORY
        if directory and shown:
            batch.append(_esc(name) + _MARKER)
        # One join, the child record spliced from `record`: tag 1, then the record with the
        # name cut to the part after `folder` (its length in the first two bytes).
        item = b"".join(
            (
                folder_key,
                _DIR_HEAD if directory else _FILE_HEAD,
                base,
                _DIR_END if directory else _FILE_END,
                _ENTRY,
                _TIE.pack(index),
                _SHOWN if shown else _HIDDEN,
                _CHILD,
                _U16.pack(len(key) - cut),
                record[2:HEAD],
                key[cut:],
                record[HEAD + len(key) :],
            )
        )
        batch.append(item)
        self._batch_bytes += len(item)
        if len(batch) >= 4096:
            self._flush()
        if shown:
            if folder != self._last_shown:
                self._imply(name, self._last_shown, _SHOWN)
                self._last_shown = self._last_any = folder
        elif folder != self._last_any:
            self._imply(name, self._last_any, _HIDDEN)
            self._last_any = folder

    def _flush(self) -> None:
        self._items.extend(self._batch, self._batch_bytes)
        self._batch = []
        self._batch_bytes = 0

    def _imply(self, name: bytes, last: bytes, shown: bytes) -> None:
        """An item for each folder of `name` the last entry's folders did not cover: those
        ending at a `/` past the common start of `name` and the last entry's prefix."""
        start = len(last) if name.startswith(last) else len(os.path.commonprefix([name, last]))
        cut = name.find(b"/", start)
        while cut >= 0:
            folder = name[:cut]
            parent = folder.rfind(b"/") + 1
            self._items.add(
                _esc(folder[:parent])
                + _DIR_HEAD
                + _esc(folder[parent:])
                + _DIR_END
                + _IMPLIED
                + shown
            )
            cut = name.find(b"/", cut + 1)

    def write(
        self, out: BinaryIO, salt: bytes, control: WorkControl | None = None
    ) -> tuple[int, tuple[int, ...]]:
        """Write the section to `out` from its position 0; (length, folder bucket offsets)."""
        self._flush()
        out.seek(0)
        out.truncate(0)
        with tempfile.TemporaryFile(dir=self._spill_dir) as records:
            writer = _ListWriter(out, records, salt, self._spill_dir)
            for n, item in enumerate(self._items):
                if n & 0xFFF == 0 and control is not None:
                    control.step()
                writer.add(item)
            writer.close_folder()
            writer.flush()
            writer.close()
            self._items.close()
            buckets = max(1, -(-writer.folders * FOLDER.size // TARGET_FOLDER_BUCKET_BYTES))
            records.seek(0)
            with tempfile.TemporaryFile(dir=self._spill_dir) as spill:
                sizes = [0] * buckets
                tag = _TAG.pack
                while block := records.read(FOLDER.size * 4096):
                    batch = []
                    for pos in range(0, len(block), FOLDER.size):
                        record = block[pos : pos + FOLDER.size]
                        bucket = folder_bucket(record, buckets)
                        sizes[bucket] += FOLDER.size
                        batch.append(tag(bucket, FOLDER.size))
                        batch.append(record)
                    spill.write(b"".join(batch))
                start = out.seek(0, os.SEEK_END)
                offsets = [start]
                for size in sizes:
                    offsets.append(offsets[-1] + size)
                spill.seek(0)
                scatter(spill, out, offsets)
        return offsets[-1], tuple(offsets)


class _ListWriter:
    """Each folder's two lists from the sorted items, and its folder record."""

    def __init__(
        self, out: BinaryIO, records: BinaryIO, salt: bytes, spill_dir: str | None
    ) -> None:
        self._out = out
        self._records = records
        self._salt = salt
        self._spill_dir = spill_dir
        self._buf = bytearray()
        self._written = out.seek(0, os.SEEK_END)
        self.folders = 0
        self._folder: bytes | None = None
        self._found = False
        self._start = self._count = self._size = 0
        self._pages: list[int] = []
        # Ours, for the folder being read: a list while small, a spilling sort past that.
        self._ours: list[bytes] = []
        self._ours_bytes = 0
        self._ours_spilled: SortedRuns | None = None
        self._group: bytes | None = None
        self._gitlab_taken = False  # GitLab's list has this name already
        self._implied_wanted = True  # ours: no directory entry of this name (so far)
        self._implied_seen = False
        # A folder without subfolders (most): ours is GitLab's order with every entry kept,
        # so its records are kept as they come instead of sorted again: in memory up to
        # _OURS_IN_MEMORY, past that in a temp file (opened then, kept for later folders).
        # A bytearray appended to in the loop, not a spooled file: its write is a Python call.
        self._has_folders = False
        self._plain = bytearray()
        self._plain_file: BinaryIO | None = None
        self._plain_spilled = False
        self._plain_count = self._plain_size = 0
        self._plain_pages: list[int] = []

    def close(self) -> None:
        if self._plain_file is not None:
            self._plain_file.close()

    def add(self, item: bytes) -> None:
        end = item.find(_END)
        folder = item[:end]
        if folder != self._folder:
            self.close_folder()
            self._folder = folder
            self._start = self._written + len(self._buf)
        group = item[end + 2]
        if group == 0:
            self._found = True
            return
        name_end = item.find(_END, end + 3)
        name = item[end + 2 : name_end]
        if name != self._group:
            self._group = name
            self._gitlab_taken = False
            self._implied_wanted = True
            self._implied_seen = False
        if group == 1:
            self._has_folders = True
        if item[name_end + 2] == 1:  # an implied folder: END, kind, shown
            shown = item[name_end + 3] == 1
            bare = _unesc(name[1:-1])
            if shown and not self._gitlab_taken:
                self._gitlab_taken = True
                self._child(encode_implied(bare))
            if self._implied_wanted and not self._implied_seen:
                self._implied_seen = True
                self._keep(name[1:-1] + _END + b"\x01" + encode_implied(bare))
            return
        shown = item[name_end + 11] == 1  # after END, kind and the archive index
        record = item[name_end + 12 :]
        if shown and not self._gitlab_taken:
            self._gitlab_taken = True
            # `_child`, inlined: one item in ten or fewer takes the other paths.
            if self._count % PAGE == 0:
                self._pages.append(self._size)
            self._buf += record
            self._count += 1
            self._size += len(record)
        if group == 1:
            self._implied_wanted = False
            base = name[1:-1]
        elif not self._has_folders:
            if self._plain_count % PAGE == 0:
                self._plain_pages.append(self._plain_size)
            plain = self._plain
            plain += record
            self._plain_count += 1
            self._plain_size += len(record)
            if len(plain) > _OURS_IN_MEMORY:
                self._spill_plain()
            return
        else:
            base = name[1:]
        self._keep(base + _END + item[name_end + 2 : name_end + 11] + record)

    def _spill_plain(self) -> None:
        if self._plain_file is None:
            self._plain_file = tempfile.TemporaryFile(dir=self._spill_dir)  # noqa: SIM115
        self._plain_file.write(self._plain)
        self._plain = bytearray()
        self._plain_spilled = True

    def _keep(self, item: bytes) -> None:
        self._ours.append(item)
        self._ours_bytes += len(item)
        if self._ours_bytes >= _OURS_IN_MEMORY:
            if self._ours_spilled is None:
                self._ours_spilled = SortedRuns(self._spill_dir, run_bytes=RUN_BYTES)
            self._ours_spilled.extend(self._ours, self._ours_bytes)
            self._ours = []
            self._ours_bytes = 0

    def _child(self, record: bytes) -> None:
        if self._count % PAGE == 0:
            self._pages.append(self._size)
        self._buf += record
        self._count += 1
        self._size += len(record)

    def _list(self) -> ChildList:
        """End the list being written: its page table, and where it is."""
        self._pages.append(self._size)
        self._buf += struct.pack(f"<{len(self._pages)}Q", *self._pages)
        found = ChildList(self._start, self._count, self._size)
        self._count = self._size = 0
        self._pages = []
        if len(self._buf) >= _FLUSH:
            self.flush()
        return found

    def close_folder(self) -> None:
        if self._folder is None:
            return
        gitlab = self._list()
        self._start = self._written + len(self._buf)
        if self._plain_count:
            self._plain_pages.append(self._plain_size)
            if self._plain_spilled:
                self.flush()
                self._spill_plain()
                held = self._plain_file
                assert held is not None
                held.seek(0)
                shutil.copyfileobj(held, self._out, _FLUSH)
                held.seek(0)
                held.truncate()
                self._plain_spilled = False
                self._written += self._plain_size
            elif len(self._buf) + len(self._plain) < _FLUSH:
                # Most folders: their records join the buffer, written a megabyte at a time.
                self._buf += self._plain
                self._plain = bytearray()
            else:
                self.flush()
                self._out.write(self._plain)
                self._plain = bytearray()
                self._written += self._plain_size
            self._buf += struct.pack(f"<{len(self._plain_pages)}Q", *self._plain_pages)
            ours = ChildList(self._start, self._plain_count, self._plain_size)
            self._plain_count = self._plain_size = 0
            self._plain_pages = []
            self._finish_folder(gitlab, ours)
            return
        spilled = self._ours_spilled
        if spilled is not None:
            spilled.extend(self._ours, self._ours_bytes)
            ordered: Iterable[bytes] = spilled
        else:
            self._ours.sort()
            ordered = self._ours
        for item in ordered:
            # base END kind (1 byte) [index (8 bytes) for an entry] record
            at = item.find(_END) + 2
            self._child(item[at + 9 :] if item[at] == 0 else item[at + 1 :])
        if spilled is not None:
            spilled.close()
        self._ours, self._ours_bytes, self._ours_spilled = [], 0, None
        self._finish_folder(gitlab, self._list())

    def _finish_folder(self, gitlab: ChildList, ours: ChildList) -> None:
        assert self._folder is not None
        found = self._found or gitlab.total > 0
        digest = folder_hash(_unesc(self._folder), self._salt)
        self._records.write(encode_folder(digest, found, ours, gitlab))
        self.folders += 1
        self._folder = None
        self._found = False
        self._group = None
        self._has_folders = False

    def flush(self) -> None:
        self._out.write(self._buf)
        self._written += len(self._buf)
        self._buf = bytearray()
