"""Locate the central directory from the end of an archive.

One suffix read (the last 22 + 65,535 + 20 + 56 bytes, or the whole object when smaller) holds
the end-of-central-directory record whatever its comment length, and the zip64 locator and
(usually) the zip64 end record just before it. Only a zip64 record that lies outside that
suffix (it carries extensible data, or something sits between it and the locator) costs a
second, 56-byte read.

Errors: `InvalidArchive` when the object is not a zip we can read at all (no end record: not a
zip, or its tail was cut off; multi-disk archives); `CorruptArchive` when the end records are
there but contradict themselves or the object (a central directory that overlaps its own
trailer, a locator pointing nowhere, an entry count the directory cannot hold).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from artifactsvc.errors import CorruptArchive, InvalidArchive
from artifactsvc.ziprange.source import RangeSource

EOCD_SIG = b"PK\x05\x06"
EOCD = struct.Struct("<4sHHHHIIH")
LOCATOR_SIG = b"PK\x06\x07"
LOCATOR = struct.Struct("<4sIQI")
EOCD64_SIG = b"PK\x06\x06"
EOCD64 = struct.Struct("<4sQHHIIQQQQ")
CENTRAL_HEADER_MIN = 46
SUFFIX_LEN = EOCD.size + 0xFFFF + LOCATOR.size + EOCD64.size


@dataclass(frozen=True, slots=True)
class CentralDirectoryLocation:
    """Where the central directory is, and what the end records promise about it."""

    cd_offset: int
    cd_size: int
    entry_count: int
    trailer_offset: int
    """Start of the end records (the zip64 record, else the EOCD); the CD ends at or before it."""
    zip64: bool


def locate_central_directory(source: RangeSource) -> CentralDirectoryLocation:
    size = source.size
    if size < EOCD.size:
        raise InvalidArchive("not a zip archive: too short")
    start = max(0, size - SUFFIX_LEN)
    tail = source.read(start, size - start)
    if len(tail) != size - start:
        raise CorruptArchive("archive shorter than its declared size")
    pos = _find_eocd(tail)
    if pos is None:
        raise InvalidArchive("not a zip archive: no end of central directory record")
    _, disk, cd_disk, on_disk, total, cd_size, cd_offset, _ = EOCD.unpack_from(tail, pos)
    loc_pos = pos - LOCATOR.size
    if loc_pos >= 0 and tail[loc_pos : loc_pos + 4] == LOCATOR_SIG:
        return _zip64(source, tail, start, loc_pos)
    if disk != 0 or cd_disk != 0 or on_disk != total:
        raise InvalidArchive("multi-disk archives are not supported")
    return _checked(cd_offset, cd_size, total, start + pos, zip64=False)


def _find_eocd(tail: bytes) -> int | None:
    """The last EOCD whose comment ends exactly at EOF, else the last one that fits at all."""
    fallback = None
    end = len(tail) - EOCD.size + len(EOCD_SIG)
    while (i := tail.rfind(EOCD_SIG, 0, end)) >= 0:
        (comment_len,) = struct.unpack_from("<H", tail, i + 20)
        if i + EOCD.size + comment_len == len(tail):
            return i
        if fallback is None and i + EOCD.size + comment_len < len(tail):
            fallback = i
        end = i + len(EOCD_SIG) - 1
    return fallback


def _zip64(source: RangeSource, tail: bytes, start: int, loc_pos: int) -> CentralDirectoryLocation:
    _, rec_disk, rec_offset, disks = LOCATOR.unpack_from(tail, loc_pos)
    if rec_disk != 0 or disks > 1:
        raise InvalidArchive("multi-disk archives are not supported")
    loc_offset = start + loc_pos
    if rec_offset + EOCD64.size > loc_offset:
        raise CorruptArchive("zip64 locator points past itself")
    if rec_offset >= start:
        record = tail[rec_offset - start : rec_offset - start + EOCD64.size]
    else:
        record = source.read(rec_offset, EOCD64.size)
        if len(record) != EOCD64.size:
            raise CorruptArchive("archive shorter than its declared size")
    sig, rec_size, _, _, disk, cd_disk, on_disk, total, cd_size, cd_offset = EOCD64.unpack(record)
    if sig != EOCD64_SIG or rec_size < EOCD64.size - 12:
        raise CorruptArchive("bad zip64 end of central directory record")
    if rec_offset + 12 + rec_size > loc_offset:
        raise CorruptArchive("zip64 end record overlaps its locator")
    if disk != 0 or cd_disk != 0 or on_disk != total:
        raise InvalidArchive("multi-disk archives are not supported")
    return _checked(cd_offset, cd_size, total, rec_offset, zip64=True)


def _checked(
    cd_offset: int, cd_size: int, count: int, trailer: int, *, zip64: bool
) -> CentralDirectoryLocation:
    if cd_offset + cd_size > trailer:
        raise CorruptArchive("central directory overlaps the end records")
    if count * CENTRAL_HEADER_MIN > cd_size:
        raise CorruptArchive(f"{count} entries cannot fit in a {cd_size}-byte central directory")
    return CentralDirectoryLocation(cd_offset, cd_size, count, trailer, zip64)
