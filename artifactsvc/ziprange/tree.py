"""The tree section of an index: every folder's direct children, sorted, in pages (format, reads).

A listing page used to walk every bucket of the index (~14 s for a million entries); with the
tree section it costs one folder-table bucket and one read of the folder's children, whatever
the archive's size. Written at upload by `treebuild`, after the buckets and seek points:

    [children lists ...][folder buckets 0..F-1]

    folder bucket = folder records, fixed size, in no order:
        hash (16 bytes: blake2b of the folder's prefix, keyed by the index's salt, person
        "folder"), flags u8 (bit 0: GitLab's listing finds the folder), then for each of the
        two orders (ours, GitLab's) the list's offset u64, child count u64, records' bytes u64
    list = [child records][(pages + 1) x u64 offsets of every PAGE-th record, from the list]
    child record = tag u8, then for tag 0 (a folder only deeper paths imply) name len u16 and
        the name; for tag 1 (an entry) an index record (`index.RECORD`) whose name is the
        entry's name after the folder's prefix, its raw name stored when it differs from the
        whole name's UTF-8

A folder is found by its prefix: "" for the root, else its path and a `/` (so the root and a
folder named "" by an entry `/x` differ). The folder table's place is in the index directory:
the tree's offset and length, F, and F + 1 offsets of its buckets (flags bit 1), so a cold
lookup reads one folder bucket (~16 KiB, one per ~250 folders) and the children; both are
cached with the buckets. Offsets inside the section are relative to its start.

Each folder has two lists, since the two listings differ in more than order: ours keeps every
entry (repeats, names that climb) sorted by path; GitLab's keeps each (name, is-folder) once
(the first in the archive), leaves out names that climb, and puts folders first, sorted by
path with a trailing `/`. Recursive listings are not served from here (see `listing`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from typing import NamedTuple

from artifactsvc.errors import CorruptArchive
from artifactsvc.ziprange.central import Entry
from artifactsvc.ziprange.index import (
    RECORD,
    BucketCache,
    IndexDirectory,
    TreeLocation,
    decode_record,
)
from artifactsvc.ziprange.source import RangeSource

PAGE = 128
FOLDER = struct.Struct("<16sBQQQQQQ")
FOUND = 0x01
TAG_IMPLIED = 0
TAG_ENTRY = 1
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
# Read a folder's whole list at once when it is this small (one request for most folders).
WHOLE_LIST = 64 << 10
_RAW_STORED = 0x80


class ChildList(NamedTuple):
    offset: int
    total: int
    records: int
    """Bytes of child records; the page offsets follow them."""

    @property
    def size(self) -> int:
        return self.records + _U64.size * (-(-self.total // PAGE) + 1)


class Folder(NamedTuple):
    found: bool
    ours: ChildList
    gitlab: ChildList


class Child(NamedTuple):
    """One child of a folder: its path (no trailing `/`) and entry (None: implied folder)."""

    path: str
    entry: Entry | None


EMPTY = ChildList(0, 0, 0)


def folder_hash(prefix: bytes, salt: bytes) -> bytes:
    return hashlib.blake2b(prefix, digest_size=16, key=salt, person=b"folder").digest()


def folder_bucket(digest: bytes, buckets: int) -> int:
    return int.from_bytes(digest[:8], "little") % buckets


def prefix_of(folder: str) -> bytes:
    return f"{folder}/".encode() if folder else b""


def encode_folder(digest: bytes, found: bool, ours: ChildList, gitlab: ChildList) -> bytes:
    return FOLDER.pack(digest, FOUND if found else 0, *ours, *gitlab)


def encode_child(entry: Entry, key: bytes, cut: int) -> bytes:
    """The child record of `entry` (whose name's UTF-8 is `key`) in the folder `key[:cut]`."""
    suffix = key[cut:]
    raw = b"" if entry.raw_name == key else entry.raw_name
    info = int(entry.kind) | (_RAW_STORED if raw else 0)
    return (
        b"\x01"
        + RECORD.pack(
            len(suffix),
            len(raw),
            info,
            entry.flags,
            entry.method,
            entry.mode,
            entry.crc32,
            entry.local_header_offset,
            entry.compressed_size,
            entry.uncompressed_size,
            entry.mtime,
        )
        + suffix
        + raw
    )


def encode_implied(name: bytes) -> bytes:
    return b"\x00" + _U16.pack(len(name)) + name


def find_folder(
    directory: IndexDirectory, sidecar: RangeSource, folder: str, cache: BucketCache | None
) -> Folder | None:
    """The folder's record; None when the archive has no such folder (nor children of it)."""
    tree = _tree(directory)
    digest = folder_hash(prefix_of(folder), directory.salt)
    bucket = folder_bucket(digest, len(tree.folder_offsets) - 1)
    start, end = tree.folder_offsets[bucket], tree.folder_offsets[bucket + 1]
    if start == end:
        return None
    data = _read(sidecar, directory, tree.offset + start, end - start, b"F", bucket, cache)
    if len(data) % FOLDER.size:
        raise CorruptArchive("index folder bucket damaged")
    for pos in range(0, len(data), FOLDER.size):
        if data[pos : pos + 16] == digest:
            fields = FOLDER.unpack_from(data, pos)
            return Folder(bool(fields[1] & FOUND), ChildList(*fields[2:5]), ChildList(*fields[5:8]))
    return None


def read_children(
    directory: IndexDirectory,
    sidecar: RangeSource,
    children: ChildList,
    prefix: bytes,
    offset: int,
    limit: int,
    cache: BucketCache | None,
) -> list[Child]:
    """Children `offset` to `offset + limit` of one list. A small list is one read, cached
    whole; a large one is its page table (cached) and one read of the pages the window
    covers (at most two: a window is at most MAX_LISTING_WINDOW long, but a page of the API
    at most 100)."""
    if offset >= children.total or limit <= 0:
        return []
    tree = _tree(directory)
    base = tree.offset + children.offset
    last = min(children.total, offset + limit) - 1
    first_page, last_page = offset // PAGE, last // PAGE
    pages = -(-children.total // PAGE)
    if children.size <= WHOLE_LIST:
        data = _read(sidecar, directory, base, children.size, b"L", children.offset, cache)
        table = memoryview(data)[children.records :]
    else:
        data = b""
        table = memoryview(
            _read(
                sidecar,
                directory,
                base + children.records,
                _U64.size * (pages + 1),
                b"T",
                children.offset,
                cache,
            )
        )
    (start,) = _U64.unpack_from(table, first_page * _U64.size)
    (end,) = _U64.unpack_from(table, (last_page + 1) * _U64.size)
    if not 0 <= start <= end <= children.records:
        raise CorruptArchive("index tree page offsets damaged")
    if data:
        records = memoryview(data)[start:end]
    else:
        records = memoryview(_read(sidecar, directory, base + start, end - start))
    skip = offset - first_page * PAGE
    want = last - offset + 1
    found: list[Child] = []
    for n, child in enumerate(_decode_children(records, prefix)):
        if n >= skip:
            found.append(child)
            if len(found) == want:
                break
    if len(found) != want:
        raise CorruptArchive("index tree page damaged")
    return found


def _tree(directory: IndexDirectory) -> TreeLocation:
    if directory.tree is None:
        raise ValueError("the index has no tree section")
    return directory.tree


def _read(
    sidecar: RangeSource,
    directory: IndexDirectory,
    start: int,
    length: int,
    kind: bytes = b"",
    number: int = 0,
    cache: BucketCache | None = None,
) -> bytes:
    """One read of the tree section, through the cache when `kind` names what it is (keyed
    apart from the buckets and seek points by the id's suffix)."""
    key = (directory.index_id + b"tree" + kind, number)
    data = cache.get(key) if cache is not None and kind else None
    if data is None:
        data = sidecar.read(start, length)
        if len(data) != length:
            raise CorruptArchive("index sidecar shorter than its tree section says")
        if cache is not None and kind:
            cache.put(key, data)
    return data


def _decode_children(data: memoryview, prefix: bytes) -> Iterator[Child]:
    pos, end = 0, len(data)
    while pos < end:
        tag = data[pos]
        if tag == TAG_IMPLIED:
            (length,) = _U16.unpack_from(data, pos + 1)
            name = prefix + bytes(data[pos + 3 : pos + 3 + length])
            pos += 3 + length
            yield Child(_text(name), None)
        elif tag == TAG_ENTRY:
            suffix_len = data[pos + 1] | data[pos + 2] << 8
            raw_len = data[pos + 3] | data[pos + 4] << 8 if data[pos + 5] & _RAW_STORED else 0
            entry = decode_record(data, pos + 1)
            start = pos + 1 + RECORD.size
            whole = prefix + bytes(data[start : start + suffix_len])
            text = _text(whole)
            pos = start + suffix_len + raw_len
            raw = entry.raw_name if raw_len else whole
            yield Child(text.rstrip("/"), entry._replace(name=text, raw_name=raw))
        else:
            raise CorruptArchive("index tree record damaged")


def _text(name: bytes) -> str:
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptArchive("index tree record damaged") from None
