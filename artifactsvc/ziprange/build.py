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
import struct
import tempfile
from typing import BinaryIO

from artifactsvc.errors import CorruptArchive, InvalidArchive
from artifactsvc.ziprange.central import Entry, iter_entries
from artifactsvc.ziprange.control import WorkControl, watched
from artifactsvc.ziprange.decompress import STORED
from artifactsvc.ziprange.eocd import locate_central_directory
from artifactsvc.ziprange.extents import ExtentCheck
from artifactsvc.ziprange.index import (
    IndexDirectory,
    bucket_of,
    directory_length,
    encode_record,
)
from artifactsvc.ziprange.seekindex import wants_points, write_seek_points
from artifactsvc.ziprange.source import RangeSource

TARGET_BUCKET_BYTES = 32 << 10
MAX_BUCKET_BYTES = 4 << 20
_FLUSH_BYTES = 4 << 20
_BLOCK = 1 << 20
_TAG = struct.Struct("<II")


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
) -> IndexDirectory:
    """Write the sidecar for the archive `source` to the seekable `out`; return its directory.

    `max_depth` and `max_name_bytes` bound every entry's name (InvalidArchive past them).
    `seek_spacing` > 0: large deflated members get seek points about that many bytes apart
    (`seekindex`), as long as the build has inflated no more than `seek_budget` bytes."""
    loc = locate_central_directory(source)
    count = choose_bucket_count(loc.cd_size, loc.entry_count)
    salt = os.urandom(16)
    sizes = [0] * count
    large: list[Entry] = []  # members that get seek points (a few: each is 2 spacings long)
    with (
        tempfile.TemporaryFile(dir=spill_dir) as spill,
        ExtentCheck(loc.cd_offset, spill_dir=spill_dir) as extents,
    ):
        chunks = source.stream(loc.cd_offset, loc.cd_size)
        for entry in watched(iter_entries(chunks, loc.entry_count), control):
            extents.add(entry)
            key = entry.key
            check_entry(entry, key, max_depth=max_depth, max_name_bytes=max_name_bytes)
            if wants_points(entry, seek_spacing):
                large.append(entry)
            record = encode_record(entry, key)
            bucket = bucket_of(key, salt, count)
            sizes[bucket] += len(record)
            spill.write(_TAG.pack(bucket, len(record)))
            spill.write(record)
        extents.finish()
        largest = max(sizes)
        if largest > MAX_BUCKET_BYTES:
            raise InvalidArchive(f"too many entries share a name ({largest} bytes in one bucket)")
        seek = seek_spacing > 0
        offsets = [directory_length(count, len(etag.encode("utf-8")), seek=seek)]
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
        )
        out.seek(0)
        out.truncate(0)
        out.write(directory.to_bytes())
        spill.seek(0)
        _scatter(spill, out, directory)
    if seek:
        out.seek(offsets[-1])
        large.sort(key=lambda entry: entry.local_header_offset)
        found = write_seek_points(
            source, large, out, spacing=seek_spacing, budget=seek_budget, control=control
        )
        directory = dataclasses.replace(directory, seek=found)
        out.seek(0)
        out.write(directory.to_bytes())  # the same length: only the seek fields change
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


def _scatter(spill: BinaryIO, out: BinaryIO, directory: IndexDirectory) -> None:
    cursors = list(directory.offsets[:-1])
    pending: dict[int, bytearray] = {}
    pending_bytes = 0

    def flush() -> None:
        for bucket in sorted(pending):
            data = pending[bucket]
            out.seek(cursors[bucket])
            out.write(data)
            cursors[bucket] += len(data)
        pending.clear()

    buf = b""
    while block := spill.read(_BLOCK):
        buf += block
        pos = 0
        while pos + _TAG.size <= len(buf):
            bucket, length = _TAG.unpack_from(buf, pos)
            end = pos + _TAG.size + length
            if end > len(buf):
                break
            target = pending.get(bucket)
            if target is None:
                target = pending[bucket] = bytearray()
            target += buf[pos + _TAG.size : end]
            pending_bytes += length
            pos = end
        buf = buf[pos:]
        if pending_bytes >= _FLUSH_BYTES:
            flush()
            pending_bytes = 0
    flush()
    if buf or cursors != list(directory.offsets[1:]):
        raise CorruptArchive("index spill inconsistent")
