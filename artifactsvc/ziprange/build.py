"""Build an archive's index (see `index`) in two passes with memory bounded by the bucket count.

Pass 1 streams the central directory once (one ranged read), validates every entry, encodes
its index record and appends it, tagged with its bucket, to a spill file, counting bytes per
bucket. The bucket offsets then follow, and pass 2 reads the spill file back sequentially and
scatters each record to its bucket's cursor in `out`, buffering at most a few MiB between
flushes. Memory is O(B) integers plus constant buffers, never O(entries); disk use is about
twice the index size. The archive is read once, so building from object storage costs the
end-record read(s) plus one stream of the directory.

Validation: the end records (`eocd`), every directory header and the entry count
(`central`), members that overlap or reach into the directory (`extents`): CorruptArchive.
Too many entries sharing one name, enough to fill a bucket past `MAX_BUCKET_BYTES` and make
every lookup in it expensive, or a name deeper or longer than the caller's bounds (a listing
walks every folder of every name): InvalidArchive. A stored member whose two sizes differ can
never be read: CorruptArchive, so the upload is refused rather than every read failing.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from typing import BinaryIO

from artifactsvc.errors import CorruptArchive, InvalidArchive
from artifactsvc.ziprange.central import FLAG_UTF8, Entry, iter_entries
from artifactsvc.ziprange.control import WorkControl
from artifactsvc.ziprange.decompress import STORED
from artifactsvc.ziprange.eocd import locate_central_directory
from artifactsvc.ziprange.extents import ExtentCheck
from artifactsvc.ziprange.index import (
    RAW_STORED,
    RECORD,
    IndexDirectory,
    TreeLocation,
    bucketer,
    directory_length,
)
from artifactsvc.ziprange.scatter import TAG, scatter
from artifactsvc.ziprange.seekindex import wants_points, write_seek_points
from artifactsvc.ziprange.source import RangeSource
from artifactsvc.ziprange.treebuild import TreeBuilder

TARGET_BUCKET_BYTES = 32 << 10
MAX_BUCKET_BYTES = 4 << 20
_COPY = 1 << 20
_SPILL_BATCH = 1 << 20


def choose_bucket_count(cd_size: int, entry_count: int) -> int:
    """About one bucket per 32 KiB of central directory (index records are a little smaller)."""
    return max(1, min(entry_count, -(-cd_size // TARGET_BUCKET_BYTES)))


def build_index(
    source: RangeSource,
    out: BinaryIO,
    *,
    etag: str,
    spill_dir: str | None = None,
    max_depth: int | None = None,
    max_name_bytes: int | None = None,
    control: WorkControl | None = None,
    seek_spacing: int = 0,
    seek_budget: int = 0,
    tree: bool = True,
) -> IndexDirectory:
    """Write the sidecar for the archive `source` to the seekable `out`; return its directory.

    `max_depth` and `max_name_bytes` bound every entry's name (InvalidArchive past them).
    `seek_spacing` > 0: large deflated members get seek points about that many bytes apart
    (`seekindex`), as long as the build has inflated no more than `seek_budget` bytes.
    `tree`: write the tree section that listings page through (`tree`); False builds an
    index as it was before it existed (for tests of the listings' bucket walk)."""
    loc = locate_central_directory(source)
    count = choose_bucket_count(loc.cd_size, loc.entry_count)
    salt = os.urandom(16)
    sizes = [0] * count
    large: list[Entry] = []  # members that get seek points (a few: each is 2 spacings long)
    with (
        tempfile.TemporaryFile(dir=spill_dir) as spill,
        tempfile.TemporaryFile(dir=spill_dir) as tree_file,
        ExtentCheck(loc.cd_offset, spill_dir=spill_dir) as extents,
        TreeBuilder(spill_dir) as folders,
    ):
        chunks = source.stream(loc.cd_offset, loc.cd_size)
        # The loop runs once per entry: methods bound once, spill writes batched, the rare
        # checks called only when one could fail, `watched`'s check inlined.
        bucket_for = bucketer(salt, count)
        add_extent = extents.add
        add_folder = folders.add if tree else None
        tag = TAG.pack
        pack_record = RECORD.pack
        # `check_entry` is called only for an entry that might fail it: a name with at least
        # max_depth slashes (trailing ones count here, not there) or longer than allowed, or
        # a stored member whose sizes differ. Most entries skip the call.
        most_slashes = (max_depth if max_depth is not None else 1 << 62) - 1
        longest = max_name_bytes if max_name_bytes is not None else 1 << 62
        pending: list[bytes] = []
        pending_bytes = 0
        for number, entry in enumerate(iter_entries(chunks, loc.entry_count)):
            if control is not None and not number & 0xFF:
                control.step()
            add_extent(entry)
            name, raw_name, offset, csize, usize, method, crc, flags, mode, kind, mtime = entry
            # A name flagged UTF-8 was decoded from its raw bytes, which are its key then.
            key = raw_name if flags & FLAG_UTF8 else name.encode("utf-8")
            if (
                len(key) > longest
                or key.count(b"/") > most_slashes
                or (method == STORED and csize != usize)
            ):
                check_entry(entry, key, max_depth=max_depth, max_name_bytes=max_name_bytes)
            # `index.encode_record`, inlined (its format is defined there).
            raw = b"" if raw_name == key else raw_name
            record = (
                pack_record(
                    len(key),
                    len(raw),
                    kind | RAW_STORED if raw else kind,
                    flags,
                    method,
                    mode,
                    crc,
                    offset,
                    csize,
                    usize,
                    mtime,
                )
                + key
                + raw
            )
            if add_folder is not None:
                add_folder(entry, key, number, record)
            if seek_spacing and wants_points(entry, seek_spacing):
                large.append(entry)
            bucket = bucket_for(key)
            size = len(record)
            sizes[bucket] += size
            pending.append(tag(bucket, size))
            pending.append(record)
            pending_bytes += size
            if pending_bytes >= _SPILL_BATCH:
                spill.write(b"".join(pending))
                pending.clear()
                pending_bytes = 0
        spill.write(b"".join(pending))
        extents.finish()
        largest = max(sizes)
        if largest > MAX_BUCKET_BYTES:
            raise InvalidArchive(f"too many entries share a name ({largest} bytes in one bucket)")
        seek = seek_spacing > 0
        located: TreeLocation | None = None
        if tree:
            length, folder_offsets = folders.write(tree_file, salt, control)
            located = TreeLocation(0, length, folder_offsets)
        folders.close()  # its sorted runs: the section is in `tree_file` now
        etag_len = len(etag.encode("utf-8"))
        folder_buckets = None if located is None else len(located.folder_offsets) - 1
        offsets = [directory_length(count, etag_len, seek=seek, folder_buckets=folder_buckets)]
        for size in sizes:
            offsets.append(offsets[-1] + size)
        directory = IndexDirectory(
            archive_size=source.size,
            archive_etag=etag,
            entry_count=loc.entry_count,
            cd_offset=loc.cd_offset,
            cd_size=loc.cd_size,
            salt=salt,
            offsets=tuple(offsets),
            seek=(offsets[-1], 0) if seek else None,
            tree=located,
        )
        out.seek(0)
        out.truncate(0)
        out.write(directory.to_bytes())
        spill.seek(0)
        scatter(spill, out, directory.offsets)
        if seek:
            out.seek(offsets[-1])
            large.sort(key=lambda entry: entry.local_header_offset)
            found = write_seek_points(
                source, large, out, spacing=seek_spacing, budget=seek_budget, control=control
            )
            directory = dataclasses.replace(directory, seek=found)
        if located is not None:
            at = out.seek(0, os.SEEK_END)
            tree_file.seek(0)
            shutil.copyfileobj(tree_file, out, _COPY)
            directory = dataclasses.replace(directory, tree=dataclasses.replace(located, offset=at))
    out.seek(0)
    out.write(directory.to_bytes())  # the same length: only the seek and tree places change
    out.flush()
    return directory


def check_entry(
    entry: Entry, key: bytes, *, max_depth: int | None, max_name_bytes: int | None
) -> None:
    """Refuse, at upload, what every later read would trip over."""
    if max_depth is not None:
        # Counted on the name a listing splits: a directory entry's trailing `/` adds nothing.
        depth = entry.name.rstrip("/").count("/") + 1
        if depth > max_depth:
            raise InvalidArchive(
                f"entry name {entry.name[:64]!r}... is {depth} folders deep, more than {max_depth}"
            )
    if max_name_bytes is not None and len(key) > max_name_bytes:
        raise InvalidArchive(
            f"entry name of {len(key)} bytes is longer than {max_name_bytes} bytes"
            f" ({entry.name[:64]!r}...)"
        )
    if (
        entry.method == STORED
        and not entry.encrypted
        and entry.compressed_size != entry.uncompressed_size
    ):
        raise CorruptArchive(f"stored member {entry.name!r} has unequal sizes")
