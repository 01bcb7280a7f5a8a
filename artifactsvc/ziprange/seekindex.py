"""Seek points in the index sidecar: written after the buckets at build time, and the one a
read needs found again with a few small ranged reads (cached).

    [windows, each zlib-compressed][a table per member][contents]

The contents (`seek.encode_toc`) list each member with seek points by local header offset,
sorted, with where its table is; a table lists its points (bit offset, uncompressed offset,
where the point's window is). The index directory records where the contents are, so an
index built before seek points existed simply has none, and reads work as they always did.

Which members: deflated, not encrypted, at least two spacings long, in archive order, until
the build has inflated `budget` bytes (past it, members get no points: a deep Range into them
is refused by the read budget instead of running for minutes). A member whose inflated bytes
contradict its entry fails the build: the upload is refused (CorruptArchive).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from artifactsvc.errors import CorruptArchive, DamagedArchive
from artifactsvc.ziprange.central import Entry
from artifactsvc.ziprange.control import WorkControl
from artifactsvc.ziprange.decompress import DEFLATED
from artifactsvc.ziprange.index import BucketCache, IndexDirectory
from artifactsvc.ziprange.member import ChunkReader, local_header_length, max_header_length
from artifactsvc.ziprange.seek import (
    PointRef,
    SeekPoint,
    decode_table,
    decode_window,
    encode_table,
    encode_toc,
    encode_window,
    find_table,
    scan,
)
from artifactsvc.ziprange.source import RangeSource

_TOC_KEY = -1


def wants_points(entry: Entry, spacing: int) -> bool:
    return (
        spacing > 0
        and entry.method == DEFLATED
        and not entry.encrypted
        and entry.uncompressed_size >= 2 * spacing
    )


def write_seek_points(
    source: RangeSource,
    members: Iterable[Entry],
    out: BinaryIO,
    *,
    spacing: int,
    budget: int,
    control: WorkControl | None = None,
) -> tuple[int, int]:
    """Scan `members` (in archive order) out of the archive `source`, append their windows,
    tables and the contents to `out` at its current end; (offset, length) of the contents."""
    toc: list[tuple[int, int, int]] = []
    spent = 0
    for entry in members:
        if spent + entry.uncompressed_size > budget:
            break
        spent += entry.uncompressed_size
        header = source.read(entry.local_header_offset, max_header_length(entry))
        try:
            start = entry.local_header_offset + local_header_length(header, entry)
            raw = ChunkReader(source.stream(start, entry.compressed_size))
            refs: list[PointRef] = []
            for point in scan(raw.iter(entry.compressed_size), entry, spacing, control):
                window = encode_window(point.window)
                refs.append(PointRef(point.bit, point.out, out.tell(), len(window)))
                out.write(window)
        except DamagedArchive as error:
            raise CorruptArchive(error.detail) from None
        table = encode_table(refs)
        toc.append((entry.local_header_offset, out.tell(), len(table)))
        out.write(table)
    contents = encode_toc(toc)
    offset = out.tell()
    out.write(contents)
    return offset, len(contents)


def choose_point(
    sidecar: RangeSource,
    directory: IndexDirectory,
    entry: Entry,
    offset: int,
    cache: BucketCache | None = None,
) -> SeekPoint | None:
    """The member's last seek point at or before `offset`, with its window; None when it has
    none there (or the index has no seek points). Cold: three small reads (contents, table,
    window); the first two are cached with the index's buckets."""
    if directory.seek is None or entry.method != DEFLATED:
        return None
    toc = _cached(sidecar, directory, _TOC_KEY, *directory.seek, cache)
    found = find_table(toc, entry.local_header_offset)
    if found is None:
        return None
    # Tables are keyed by where they are: negative, so never a bucket's number.
    table = decode_table(_cached(sidecar, directory, -2 - found[0], *found, cache))
    best: PointRef | None = None
    for ref in table:
        if ref.out > offset:
            break
        best = ref
    if best is None:
        return None
    window = sidecar.read(best.window_offset, best.window_length)
    if len(window) != best.window_length:
        raise CorruptArchive("index sidecar shorter than its seek points say")
    return SeekPoint(best.bit, best.out, decode_window(window))


def _cached(
    sidecar: RangeSource,
    directory: IndexDirectory,
    key: int,
    start: int,
    length: int,
    cache: BucketCache | None,
) -> bytes:
    data = cache.get((directory.index_id, key)) if cache is not None else None
    if data is None:
        data = sidecar.read(start, length)
        if len(data) != length:
            raise CorruptArchive("index sidecar shorter than its seek points say")
        if cache is not None:
            cache.put((directory.index_id, key), data)
    return data
