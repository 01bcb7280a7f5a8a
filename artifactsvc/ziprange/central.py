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
import stat
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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


class EntryKind(enum.IntEnum):
    FILE = 0
    DIRECTORY = 1
    SYMLINK = 2


@dataclass(frozen=True, slots=True)
class Entry:
    """One archive member as its central directory (or our index) describes it."""

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
    """
    buf = bytearray()
    pos = 0
    seen = 0
    for chunk in chunks:
        if pos:
            del buf[:pos]
            pos = 0
        buf += chunk
        avail = len(buf)
        while avail - pos >= CENTRAL.size:
            fields = CENTRAL.unpack_from(buf, pos)
            if fields[0] != CENTRAL_SIG:
                raise CorruptArchive(f"bad central directory header signature at entry {seen}")
            n, m, k = fields[10], fields[11], fields[12]
            end = pos + CENTRAL.size + n + m + k
            if end > avail:
                break
            seen += 1
            if seen > entry_count:
                raise CorruptArchive(f"central directory holds more than {entry_count} entries")
            name_end = pos + CENTRAL.size + n
            yield _entry(fields, bytes(buf[pos + CENTRAL.size : name_end]), buf[name_end : name_end + m])
            pos = end
    if pos != len(buf):
        raise CorruptArchive("central directory ends inside an entry")
    if seen != entry_count:
        raise CorruptArchive(f"central directory holds {seen} entries, expected {entry_count}")


def _entry(fields: tuple[int, ...], raw_name: bytes, extra: bytes | bytearray) -> Entry:
    (_, made_by, _, flags, method, dos_time, dos_date, crc, csize, usize) = fields[:10]
    external, offset = fields[15], fields[16]
    mtime: int | None = None
    unicode_path: str | None = None
    zip64: bytes | bytearray = b""
    i = 0
    while i + 4 <= len(extra):
        tag, size = _EXTRA.unpack_from(extra, i)
        data = extra[i + 4 : i + 4 + size]
        i += 4 + size
        if tag == 0x0001:
            zip64 = data
        elif tag == 0x5455 and len(data) >= 5 and data[0] & 1:
            (mtime,) = struct.unpack_from("<i", data, 1)
        elif tag == 0x7075 and len(data) >= 5 and data[0] == 1:
            if struct.unpack_from("<I", data, 1)[0] == zlib.crc32(raw_name):
                try:
                    unicode_path = bytes(data[5:]).decode("utf-8")
                except UnicodeDecodeError:
                    pass
    if ZIP64_LIMIT in (usize, csize, offset):
        usize, csize, offset = _zip64_values(zip64, usize, csize, offset, raw_name)
    name = _decode_name(raw_name, flags, unicode_path)
    mode, kind = _mode(made_by >> 8, external, name)
    return Entry(
        name=name,
        raw_name=raw_name,
        local_header_offset=offset,
        compressed_size=csize,
        uncompressed_size=usize,
        method=method,
        crc32=crc,
        flags=flags,
        mode=mode,
        kind=kind,
        mtime=_dos_to_unix(dos_date, dos_time) if mtime is None else mtime,
    )


def _zip64_values(
    data: bytes | bytearray, usize: int, csize: int, offset: int, raw_name: bytes
) -> tuple[int, int, int]:
    values = [usize, csize, offset]
    pos = 0
    for i, value in enumerate(values):
        if value == ZIP64_LIMIT:
            if pos + 8 > len(data):
                raise CorruptArchive(f"missing zip64 extra field for {raw_name!r}")
            (values[i],) = _Q.unpack_from(data, pos)
            pos += 8
    return values[0], values[1], values[2]


def _decode_name(raw: bytes, flags: int, unicode_path: str | None) -> str:
    if flags & FLAG_UTF8:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptArchive(f"entry name {raw!r} is flagged UTF-8 but is not") from None
    if unicode_path is not None:
        return unicode_path
    return raw.decode("cp437")


def _mode(system: int, external: int, name: str) -> tuple[int, EntryKind]:
    unix = external >> 16 if system in _UNIX_SYSTEMS else 0
    perms = stat.S_IMODE(unix)
    is_dir = name.endswith("/") or bool(external & 0x10) or stat.S_ISDIR(unix)
    if is_dir:
        return stat.S_IFDIR | (perms or 0o755), EntryKind.DIRECTORY
    if stat.S_ISLNK(unix):
        return unix, EntryKind.SYMLINK
    if not perms:
        perms = 0o444 if external & 0x01 else 0o644
    return stat.S_IFREG | perms, EntryKind.FILE


def _dos_to_unix(dos_date: int, dos_time: int) -> int:
    year = 1980 + (dos_date >> 9)
    month = min(max((dos_date >> 5) & 0xF, 1), 12)
    day = max(dos_date & 0x1F, 1)
    hms = ((dos_time >> 11) & 0x1F, (dos_time >> 5) & 0x3F, (dos_time & 0x1F) * 2)
    return calendar.timegm((year, month, day, *hms, 0, 0, 0))


_DOS_MIN = calendar.timegm((1980, 1, 1, 0, 0, 0))
_DOS_MAX = calendar.timegm((2107, 12, 31, 23, 59, 58))


def unix_to_dos(mtime: int) -> tuple[int, int]:
    """(date, time) in DOS format, read as UTC, clamped to the years DOS can express."""
    t = time.gmtime(min(max(mtime, _DOS_MIN), _DOS_MAX))
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    return dos_date, (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
