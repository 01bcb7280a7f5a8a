"""Central-directory entries, parsed incrementally from a stream of chunks.

`iter_entries` holds at most one chunk plus one partial header at a time, so a directory of
a million entries costs no more memory than one of ten. Names are decoded as UTF-8 when
general-purpose flag bit 11 is set, else from the Info-ZIP Unicode Path extra (0x7075) when
its CRC matches the raw name, else as CP437 (the zip default). `mtime` is Unix seconds: from
the extended-timestamp extra (0x5455) when present, else from the DOS date and time read as
UTC (DOS times carry no zone).
"""

from __future__ import annotations

import calendar
import enum
import functools
import stat
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from artifactsvc.errors import CorruptArchive

CENTRAL_SIG = b"PK\x01\x02"
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_UTF8 = 0x0800
ZIP64_LIMIT = 0xFFFFFFFF
_UNIX_SYSTEMS = (3, 19)  # Unix, OS X
_EXTRA = struct.Struct("<HH")
_Q = struct.Struct("<Q")
_CRC = struct.Struct("<I")
_I32 = struct.Struct("<i")


class EntryKind(enum.IntEnum):
    FILE = 0
    DIRECTORY = 1
    SYMLINK = 2


class Entry(NamedTuple):
    """One archive member as its central directory (or our index) describes it.

    A NamedTuple rather than a frozen dataclass: a million of them are made per index build,
    and a tuple is built several times faster.
    """

    name: str
    raw_name: bytes
    local_header_offset: int
    compressed_size: int
    uncompressed_size: int
    method: int
    crc32: int
    flags: int
    mode: int
    """Full Unix st_mode (type and permission bits), synthesized for non-Unix archivers."""
    kind: EntryKind
    mtime: int

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & FLAG_ENCRYPTED)

    @property
    def key(self) -> bytes:
        """The bytes a lookup matches: the decoded name as UTF-8."""
        return self.name.encode("utf-8")


def iter_entries(chunks: Iterable[bytes], entry_count: int) -> Iterator[Entry]:
    """Yield each entry of a central directory given as chunks, in directory order.

    Raises CorruptArchive for a bad signature, a header cut short, trailing bytes, or a
    number of entries other than `entry_count`.

    This is the index build's inner loop (a million entries per million-entry upload), so it
    is written for speed: one `unpack_from` per header over a bytes block (slices of bytes
    are one copy, of a bytearray two), the usual case (a regular file or a folder made on
    Unix, a UTF-8 name, the zip64 and extended-timestamp extras) decided inline, and each
    Entry made with `tuple.__new__`, which skips the NamedTuple's Python-level constructor.
    Anything unusual goes through `_entry`, the general path.
    """
    unpack = CENTRAL.unpack_from
    extra = _EXTRA.unpack_from
    q = _Q.unpack_from
    i32 = _I32.unpack_from
    new = tuple.__new__
    header = CENTRAL.size
    file_kind, dir_kind = EntryKind.FILE, EntryKind.DIRECTORY
    buf = b""
    pos = 0
    seen = 0
    for chunk in chunks:
        buf = buf[pos:] + chunk if pos < len(buf) else bytes(chunk)
        pos = 0
        avail = len(buf)
        while avail - pos >= header:
            fields = unpack(buf, pos)
            if fields[0] != CENTRAL_SIG:
                raise CorruptArchive(f"bad central directory header signature at entry {seen}")
            n, m = fields[10], fields[11]
            name_end = pos + header + n
            end = name_end + m + fields[12]
            if end > avail:
                break
            seen += 1
            if seen > entry_count:
                raise CorruptArchive(f"central directory holds more than {entry_count} entries")
            raw_name = buf[pos + header : name_end]
            pos = end
            made_by, flags, external = fields[1], fields[3], fields[15]
            if not flags & FLAG_UTF8 or made_by >> 8 not in _UNIX_SYSTEMS or not n:
                yield _entry(fields, raw_name, buf, name_end, name_end + m)
                continue
            csize, usize, offset = fields[8], fields[9], fields[16]
            mtime = None
            i, extra_end = name_end, name_end + m
            general = False
            while i + 4 <= extra_end:
                tag, size = extra(buf, i)
                i += 4
                if i + size > extra_end:
                    break
                if tag == 0x0001:
                    # zip64: the 8-byte values, in this order, of the fields that are maxed
                    at = i
                    if usize == ZIP64_LIMIT and at + 8 <= i + size:
                        (usize,) = q(buf, at)
                        at += 8
                    if csize == ZIP64_LIMIT and at + 8 <= i + size:
                        (csize,) = q(buf, at)
                        at += 8
                    if offset == ZIP64_LIMIT and at + 8 <= i + size:
                        (offset,) = q(buf, at)
                elif tag == 0x5455:
                    if size >= 5 and buf[i] & 1:
                        (mtime,) = i32(buf, i + 1)
                elif tag == 0x7075:
                    general = True  # a Unicode Path extra: only the general path weighs it
                i += size
            if general or ZIP64_LIMIT in (usize, csize, offset):
                yield _entry(fields, raw_name, buf, name_end, name_end + m)
                continue
            try:
                name = raw_name.decode("utf-8")
            except UnicodeDecodeError:
                raise CorruptArchive(
                    f"entry name {raw_name!r} is flagged UTF-8 but is not"
                ) from None
            unix = external >> 16
            fmt = unix & 0o170000
            if fmt == stat.S_IFREG and unix & 0o7777 and name[-1] != "/" and not external & 0x10:
                mode, kind = unix, file_kind
            elif fmt == stat.S_IFDIR and name[-1] == "/":
                mode, kind = stat.S_IFDIR | (unix & 0o7777 or 0o755), dir_kind
            else:
                mode, kind = _mode(made_by >> 8, external, name)
            if mtime is None:
                dos_time = fields[5]
                mtime = (
                    _dos_day(fields[6])
                    + ((dos_time >> 11) & 0x1F) * 3600
                    + ((dos_time >> 5) & 0x3F) * 60
                    + (dos_time & 0x1F) * 2
                )
            yield new(
                Entry,
                (
                    name,
                    raw_name,
                    offset,
                    csize,
                    usize,
                    fields[4],
                    fields[7],
                    flags,
                    mode,
                    kind,
                    mtime,
                ),
            )
    if pos != len(buf):
        raise CorruptArchive("central directory ends inside an entry")
    if seen != entry_count:
        raise CorruptArchive(f"central directory holds {seen} entries, expected {entry_count}")


def _entry(fields: tuple[Any, ...], raw_name: bytes, buf: bytes, i: int, end: int) -> Entry:
    """Build an entry from its fixed fields, name, and the extra field at buf[i:end]."""
    made_by, flags, method, dos_time, dos_date, crc = fields[1], *fields[3:8]
    csize, usize, external, offset = fields[8], fields[9], fields[15], fields[16]
    mtime: int | None = None
    unicode_path: str | None = None
    zip64 = zip64_end = -1
    while i + 4 <= end:
        tag, size = _EXTRA.unpack_from(buf, i)
        i += 4
        if i + size > end:
            break  # a malformed trailing extra is ignored, as Go's archive/zip does
        if tag == 0x0001:
            zip64 = i
            zip64_end = i + size
        elif tag == 0x5455 and size >= 5 and buf[i] & 1:
            (mtime,) = _I32.unpack_from(buf, i + 1)
        elif tag == 0x7075:
            unicode_path = _unicode_path(bytes(buf[i : i + size]), raw_name)
        i += size
    if usize == ZIP64_LIMIT or csize == ZIP64_LIMIT or offset == ZIP64_LIMIT:
        if zip64 < 0:
            raise CorruptArchive(f"missing zip64 extra field for {raw_name!r}")
        values = [usize, csize, offset]
        for n, value in enumerate(values):
            if value == ZIP64_LIMIT:
                if zip64 + 8 > zip64_end:
                    raise CorruptArchive(f"short zip64 extra field for {raw_name!r}")
                (values[n],) = _Q.unpack_from(buf, zip64)
                zip64 += 8
        usize, csize, offset = values
    if flags & FLAG_UTF8:
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArchive(f"entry name {raw_name!r} is flagged UTF-8 but is not") from None
    elif unicode_path is not None:
        name = unicode_path
    else:
        # GitLab (Go) matches raw name bytes, so a UTF-8 name written without flag 11 is found
        # there by its UTF-8 spelling: do the same, falling back to cp437 only for non-UTF-8.
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            name = raw_name.decode("cp437")
    mode, kind = _mode(made_by >> 8, external, name)
    if mtime is None:
        mtime = _dos_day(dos_date) + _dos_seconds(dos_time)
    return Entry(name, raw_name, offset, csize, usize, method, crc, flags, mode, kind, mtime)


def _unicode_path(data: bytes, raw_name: bytes) -> str | None:
    """Info-ZIP Unicode Path: version 1, CRC-32 of the raw name it stands for, UTF-8 name."""
    if len(data) < 5 or data[0] != 1 or _CRC.unpack_from(data, 1)[0] != zlib.crc32(raw_name):
        return None
    try:
        return data[5:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _mode(system: int, external: int, name: str) -> tuple[int, EntryKind]:
    unix = external >> 16 if system in _UNIX_SYSTEMS else 0
    fmt, perms = unix & 0o170000, unix & 0o7777
    if name[-1:] == "/" or external & 0x10 or fmt == stat.S_IFDIR:
        return stat.S_IFDIR | (perms or 0o755), EntryKind.DIRECTORY
    if fmt == stat.S_IFLNK:
        return unix, EntryKind.SYMLINK
    if not perms:
        perms = 0o444 if external & 0x01 else 0o644
    return stat.S_IFREG | perms, EntryKind.FILE


@functools.lru_cache(maxsize=4096)
def _dos_day(dos_date: int) -> int:
    """Unix time of midnight UTC on a DOS date (out-of-range months and days clamped)."""
    month = min(max((dos_date >> 5) & 0xF, 1), 12)
    return calendar.timegm((1980 + (dos_date >> 9), month, max(dos_date & 0x1F, 1), 0, 0, 0))


def _dos_seconds(dos_time: int) -> int:
    return ((dos_time >> 11) & 0x1F) * 3600 + ((dos_time >> 5) & 0x3F) * 60 + (dos_time & 0x1F) * 2


_DOS_MIN = calendar.timegm((1980, 1, 1, 0, 0, 0))
_DOS_MAX = calendar.timegm((2107, 12, 31, 23, 59, 58))


def unix_to_dos(mtime: int) -> tuple[int, int]:
    """(date, time) in DOS format, read as UTC, clamped to the years DOS can express."""
    t = time.gmtime(min(max(mtime, _DOS_MIN), _DOS_MAX))
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    return dos_date, (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
