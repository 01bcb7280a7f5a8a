"""Stream a new zip whose members are copied, still compressed, out of another archive.

Used to serve part of an archive (a folder) as a zip of its own: nothing is inflated or
re-deflated. Each member's CRC and sizes are known from its entry before its data is
written, so they go straight into the local header and no data descriptor follows: readers
that stream (stream-unzip among them) cannot handle a stored member with a descriptor, and
nothing is gained by one here. Zip64 fields are written for a member whose sizes or offset
reach 4 GiB, and zip64 end records when there are more than 65,535 entries or the directory
sits past 4 GiB; `zip64=True` forces both everywhere.

Memory stays flat: the central directory records (46 bytes + name + extras, ~100 bytes an
entry) are spooled to a temp file once they pass 8 MiB, and member bytes pass straight through.
A member's compressed bytes are counted against its entry; a difference is DamagedArchive.
Encrypted members are refused (InvalidArchive): their extras are not carried over. Names are
written as UTF-8 (flag bit 11 when not ASCII), whatever encoding the source used.

`iter_raw_members` supplies the (entry, compressed bytes) pairs from a `RangeSource`, reading
runs of neighbouring members with one ranged read each; it yields them in archive order.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterable, Iterator

from artifactsvc.errors import DamagedArchive, InvalidArchive
from artifactsvc.ziprange.central import (
    CENTRAL,
    CENTRAL_SIG,
    FLAG_UTF8,
    ZIP64_LIMIT,
    Entry,
    EntryKind,
    unix_to_dos,
)
from artifactsvc.ziprange.control import WorkControl
from artifactsvc.ziprange.eocd import EOCD, EOCD64, EOCD64_SIG, EOCD_SIG, LOCATOR, LOCATOR_SIG
from artifactsvc.ziprange.member import (
    LOCAL,
    LOCAL_SIG,
    ChunkReader,
    Run,
    local_header_length,
    max_header_length,
)
from artifactsvc.ziprange.source import RangeSource

_SPOOL = 8 << 20
_COPY_CHUNK = 1 << 16
_VERSION_NEEDED = {0: 20, 8: 20, 9: 21, 12: 46, 14: 63}
_MADE_BY = (3 << 8) | 63  # Unix, spec 6.3


def write_zip(
    members: Iterable[tuple[Entry, Iterable[bytes]]], *, zip64: bool = False
) -> Iterator[bytes]:
    """Yield a zip of `members`, each given as its entry and its raw compressed bytes."""
    offset = count = 0
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as central:
        for entry, raw in members:
            if entry.encrypted:
                raise InvalidArchive(f"{entry.name!r} is encrypted and cannot be copied")
            local, record = _headers(entry, offset, zip64)
            yield local
            copied = 0
            for chunk in raw:
                copied += len(chunk)
                if copied > entry.compressed_size:
                    break
                yield chunk
            if copied != entry.compressed_size:
                raise DamagedArchive(f"{entry.name!r}: compressed bytes differ from its size")
            central.write(record)
            offset += len(local) + copied
            count += 1
        cd_offset, cd_size = offset, central.tell()
        central.seek(0)
        while chunk := central.read(_COPY_CHUNK):
            yield chunk
    yield _end_records(count, cd_offset, cd_size, force=zip64)


def _headers(entry: Entry, offset: int, force: bool) -> tuple[bytes, bytes]:
    name = entry.name.encode("utf-8")
    flags = (entry.flags & 0x0006) | (0 if name.isascii() else FLAG_UTF8)
    dos_date, dos_time = unix_to_dos(entry.mtime)
    csize, usize = entry.compressed_size, entry.uncompressed_size
    big_sizes = force or csize >= ZIP64_LIMIT or usize >= ZIP64_LIMIT
    big_offset = force or offset >= ZIP64_LIMIT
    needed = max(_VERSION_NEEDED.get(entry.method, 20), 45 if big_sizes or big_offset else 0)
    stamp = (
        struct.pack("<HHBi", 0x5455, 5, 1, entry.mtime) if -(2**31) <= entry.mtime < 2**31 else b""
    )
    local_extra = (struct.pack("<HHQQ", 1, 16, usize, csize) if big_sizes else b"") + stamp
    local = LOCAL.pack(
        LOCAL_SIG,
        needed,
        flags,
        entry.method,
        dos_time,
        dos_date,
        entry.crc32,
        ZIP64_LIMIT if big_sizes else csize,
        ZIP64_LIMIT if big_sizes else usize,
        len(name),
        len(local_extra),
    )
    wide = [usize, csize] if big_sizes else []
    if big_offset:
        wide.append(offset)
    central_extra = struct.pack(f"<HH{len(wide)}Q", 1, 8 * len(wide), *wide) if wide else b""
    central_extra += stamp
    external = (entry.mode << 16) | (0x10 if entry.kind == EntryKind.DIRECTORY else 0)
    record = CENTRAL.pack(
        CENTRAL_SIG,
        _MADE_BY,
        needed,
        flags,
        entry.method,
        dos_time,
        dos_date,
        entry.crc32,
        ZIP64_LIMIT if big_sizes else csize,
        ZIP64_LIMIT if big_sizes else usize,
        len(name),
        len(central_extra),
        0,
        0,
        0,
        external & 0xFFFFFFFF,
        ZIP64_LIMIT if big_offset else offset,
    )
    return local + name + local_extra, record + name + central_extra


def _end_records(count: int, cd_offset: int, cd_size: int, *, force: bool) -> bytes:
    if not (force or count > 0xFFFF or cd_offset >= ZIP64_LIMIT or cd_size >= ZIP64_LIMIT):
        return EOCD.pack(EOCD_SIG, 0, 0, count, count, cd_size, cd_offset, 0)
    record = EOCD64.pack(
        EOCD64_SIG, EOCD64.size - 12, _MADE_BY, 45, 0, 0, count, count, cd_size, cd_offset
    )
    locator = LOCATOR.pack(LOCATOR_SIG, 0, cd_offset + cd_size, 1)
    saturated = EOCD.pack(EOCD_SIG, 0, 0, 0xFFFF, 0xFFFF, ZIP64_LIMIT, ZIP64_LIMIT, 0)
    return record + locator + saturated


def iter_raw_members(
    source: RangeSource,
    entries: Iterable[Entry],
    *,
    max_gap: int = 1 << 16,
    max_run: int = 4096,
    control: WorkControl | None = None,
) -> Iterator[tuple[Entry, Iterator[bytes]]]:
    """Pair each entry with its compressed bytes, in the order given, for `write_zip`.

    Consecutive entries that ascend through the archive no more than `max_gap` bytes apart
    share one ranged read (at most `max_run` of them, so memory stays flat however many
    entries stream through). Given in archive order, as a central directory usually is, a
    whole folder costs a handful of reads; in any other order each run is just shorter.
    Each pair's bytes must be consumed before the next pair is requested; whatever is left
    is skipped. A local header longer than the slack lengthens the run's read (`Run.reach`).
    `control` is checked between members.
    """
    pending = iter(entries)
    following = next(pending, None)
    while following is not None:
        run = [following]
        end = _range_end(following, source.size)
        following = next(pending, None)
        while (
            following is not None
            and len(run) < max_run
            and run[-1].local_header_offset < following.local_header_offset <= end + max_gap
        ):
            run.append(following)
            end = max(end, _range_end(following, source.size))
            following = next(pending, None)
        start = run[0].local_header_offset
        stream = Run(source, start, end - start)
        reader = ChunkReader(stream)
        pos = start
        for entry in run:
            if control is not None:
                control.step()
            gap = entry.local_header_offset - pos
            if gap < 0:
                raise DamagedArchive(f"{entry.name!r} overlaps the member before it")
            for _ in reader.iter(gap):
                pass
            header = reader.read(LOCAL.size)
            skip = local_header_length(header, entry) - LOCAL.size
            stream.reach(entry.local_header_offset + LOCAL.size + skip + entry.compressed_size)
            reader.read(skip)
            data = reader.iter(entry.compressed_size)
            yield entry, data
            for _ in data:
                pass
            pos = entry.local_header_offset + LOCAL.size + skip + entry.compressed_size


def _range_end(entry: Entry, archive_size: int) -> int:
    return min(
        entry.local_header_offset + max_header_length(entry) + entry.compressed_size, archive_size
    )
