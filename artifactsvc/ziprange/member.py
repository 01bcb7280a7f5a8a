"""Read one member with one ranged read, verifying it as it streams.

The central directory (via the index) gives the local header's offset and the compressed
size, but not the local header's length: its name and extra field may differ from the
central ones (zip64 and timestamp extras usually do). `member_range` therefore covers the
30-byte local header, the central name length plus `HEADER_SLACK` (1 KiB) for the local name
and extra, and the compressed data. A local header whose name + extra exceed that slack is
rejected as CorruptArchive rather than costing a second read; real archivers stay far below.

`iter_member` parses the local header at the start of that range, then yields the member's
uncompressed bytes (`decompress`), counting them against the declared size (more, a zip bomb,
or fewer: CorruptArchive as soon as it shows) and checking the CRC-32 whenever the member was
decompressed to its end. With `offset`/`length` it yields only that slice of the uncompressed
bytes: a compressed member is decompressed from its start and the prefix dropped, and reading
stops once the slice is out (its CRC then goes unchecked). `read_member` does all this over a
`RangeSource`, and serves a far slice of a stored member by two reads (its local header, then
exactly the slice) instead of one read through everything before the slice.

Encrypted members and unknown methods raise InvalidArchive from `ensure_readable`, which
`read_member` calls before returning, so the caller can refuse before it starts a response.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

from artifactsvc.errors import CorruptArchive, InvalidArchive, MemberRangeOutside
from artifactsvc.ziprange.central import Entry
from artifactsvc.ziprange.decompress import STORED, SUPPORTED_METHODS, decompress
from artifactsvc.ziprange.source import RangeSource

LOCAL_SIG = b"PK\x03\x04"
LOCAL = struct.Struct("<4sHHHHHIIIHH")
HEADER_SLACK = 1024
STORED_SEEK_THRESHOLD = 1 << 20


def ensure_readable(entry: Entry) -> None:
    """Raise now what reading the member would raise first: encryption, unknown method."""
    if entry.encrypted:
        raise InvalidArchive("encrypted member")
    if entry.method not in SUPPORTED_METHODS:
        raise InvalidArchive(f"unsupported compression method {entry.method}")
    if entry.method == STORED and entry.compressed_size != entry.uncompressed_size:
        raise CorruptArchive("stored member whose sizes differ")


def clamp_range(entry: Entry, offset: int = 0, length: int | None = None) -> tuple[int, int]:
    """(offset, length) within the uncompressed member; MemberRangeOutside past its end."""
    size = entry.uncompressed_size
    if offset < 0 or (length is not None and length < 0):
        raise ValueError("negative range")
    if offset > size:
        raise MemberRangeOutside(size)
    rest = size - offset
    return offset, rest if length is None else min(length, rest)


def max_header_length(entry: Entry) -> int:
    return LOCAL.size + len(entry.raw_name) + HEADER_SLACK


def member_range(
    entry: Entry, archive_size: int, *, offset: int = 0, length: int | None = None
) -> tuple[int, int]:
    """The one archive range that serves the member (or, if stored, its prefix up to a slice)."""
    offset, length = clamp_range(entry, offset, length)
    data = offset + length if entry.method == STORED else entry.compressed_size
    start = entry.local_header_offset
    return start, max(0, min(max_header_length(entry) + data, archive_size - start))


def local_header_length(header: bytes, entry: Entry) -> int:
    """Length of the local header (30 + name + extra) at the start of `header`."""
    if len(header) < LOCAL.size:
        raise CorruptArchive(f"archive ends inside the local header of {entry.name!r}")
    sig, _, _, method, *_, name_len, extra_len = LOCAL.unpack_from(header)
    if sig != LOCAL_SIG:
        raise CorruptArchive(f"no local header where {entry.name!r} should start")
    if method != entry.method:
        raise CorruptArchive(f"local and central compression methods of {entry.name!r} differ")
    length: int = LOCAL.size + name_len + extra_len
    if length > max_header_length(entry):
        raise CorruptArchive(f"local header of {entry.name!r} is longer than the slack allows")
    return length


def stored_slice_range(
    entry: Entry, header_length: int, offset: int, length: int
) -> tuple[int, int]:
    """The archive range holding bytes offset..offset+length of a stored member."""
    return entry.local_header_offset + header_length + offset, length


class ChunkReader:
    """Exact-length reads over an iterator of chunks; running out is CorruptArchive."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n: int) -> bytes:
        parts, have = [self._buf], len(self._buf)
        while have < n:
            chunk = next(self._it, None)
            if chunk is None:
                raise CorruptArchive("archive ends inside a member")
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self._buf = data[n:]
        return data[:n]

    def iter(self, n: int) -> Iterator[bytes]:
        if self._buf:
            head, self._buf = self._buf[:n], self._buf[n:]
            n -= len(head)
            yield head
        while n > 0:
            chunk = next(self._it, None)
            if chunk is None:
                raise CorruptArchive("archive ends inside a member")
            if len(chunk) > n:
                chunk, self._buf = chunk[:n], chunk[n:]
            n -= len(chunk)
            if chunk:
                yield chunk


def iter_raw_member(chunks: Iterable[bytes], entry: Entry) -> Iterator[bytes]:
    """The member's compressed bytes, exactly `compressed_size` of them, from `member_range`."""
    reader = ChunkReader(chunks)
    header = reader.read(LOCAL.size)
    skip = local_header_length(header, entry) - LOCAL.size
    reader.read(skip)
    yield from reader.iter(entry.compressed_size)


def iter_member(
    chunks: Iterable[bytes], entry: Entry, *, offset: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """The uncompressed bytes (or a slice of them) of the member starting `chunks`."""
    ensure_readable(entry)
    offset, length = clamp_range(entry, offset, length)
    if length == 0:
        return
    if entry.method == STORED:
        raw = iter_raw_member(chunks, entry)
        if offset + length < entry.uncompressed_size:
            # Only the prefix up to the slice was requested (see member_range).
            raw = ChunkReader(raw).iter(offset + length)
        yield from _checked(raw, entry, offset, length)
        return
    yield from _checked(decompress(entry, iter_raw_member(chunks, entry)), entry, offset, length)


def _checked(out: Iterator[bytes], entry: Entry, offset: int, length: int) -> Iterator[bytes]:
    size = entry.uncompressed_size
    end = offset + length
    pos = 0
    crc = 0
    for chunk in out:
        n = len(chunk)
        if pos + n > size:
            raise CorruptArchive(f"{entry.name!r} decompresses past its declared size")
        crc = zlib.crc32(chunk, crc)
        lo, hi = max(offset - pos, 0), min(end - pos, n)
        if lo < hi:
            yield chunk if (lo, hi) == (0, n) else chunk[lo:hi]
        pos += n
        if pos >= end and end < size:
            return
    if pos != size:
        raise CorruptArchive(f"{entry.name!r} is shorter than its declared size")
    if crc != entry.crc32:
        raise CorruptArchive(f"CRC-32 mismatch in {entry.name!r}")


def read_member(
    source: RangeSource, entry: Entry, *, offset: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """Check the entry now, then return its bytes: one ranged read, two for a far stored slice.

    Nothing is read for an empty member or slice.
    """
    ensure_readable(entry)
    offset, length = clamp_range(entry, offset, length)
    if length == 0:
        return iter(())
    if entry.method == STORED and offset > STORED_SEEK_THRESHOLD:
        header = source.read(entry.local_header_offset, max_header_length(entry))
        start, n = stored_slice_range(entry, local_header_length(header, entry), offset, length)
        return ChunkReader(source.stream(start, n)).iter(n)
    start, n = member_range(entry, source.size, offset=offset, length=length)
    return iter_member(source.stream(start, n), entry, offset=offset, length=length)
