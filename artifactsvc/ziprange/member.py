"""Read one member with one ranged read, verifying it as it streams.

The central directory (via the index) gives the local header's offset and the compressed
size, but not the local header's length: its name and extra field may differ from the
central ones (zip64 and timestamp extras usually do). `member_range` therefore covers the
30-byte local header, the central name length plus `HEADER_SLACK` (1 KiB) for the local name
and extra, and the compressed data. A local header whose name + extra exceed that slack (the
format allows 64 KiB of extra; real archivers stay far below) costs a second read of just the
bytes missing (`Run.reach`), never a refusal.

`iter_member` parses the local header at the start of that range, then yields the member's
uncompressed bytes (`decompress`), counting them against the declared size (more, a zip bomb,
or fewer: DamagedArchive as soon as it shows) and checking the CRC-32 whenever the member was
decompressed to its end. With `offset`/`length` it yields only that slice of the uncompressed
bytes: a compressed member is decompressed from its start and the prefix dropped, and reading
stops once the slice is out (its CRC then goes unchecked). `read_member` does all this over a
`RangeSource`, and serves a far slice of a stored member by two reads (its local header, then
exactly the slice) instead of one read through everything before the slice.

Encrypted members and unknown methods raise InvalidArchive from `ensure_readable`, which
`read_member` calls before returning, so the caller can refuse before it starts a response;
so does a slice that would inflate more than the caller's budget before its first byte
(InflateBudgetExceeded). A `WorkControl` is consulted for every inflated chunk: cancelling it
stops the read inside its inflate loop.

Every way a member's bytes contradict its entry (local header, sizes, CRC, codec data) is
DamagedArchive: deterministic for the archive version a read is pinned to, so a 4xx.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

from artifactsvc.errors import (
    DamagedArchive,
    InflateBudgetExceeded,
    InvalidArchive,
    MemberRangeOutside,
)
from artifactsvc.ziprange.central import Entry
from artifactsvc.ziprange.control import WorkControl
from artifactsvc.ziprange.decompress import STORED, SUPPORTED_METHODS, decompress
from artifactsvc.ziprange.seek import SeekPoint, inflate_from
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
        raise DamagedArchive("stored member whose sizes differ")


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
        raise DamagedArchive(f"archive ends inside the local header of {entry.name!r}")
    sig, _, _, method, *_, name_len, extra_len = LOCAL.unpack_from(header)
    if sig != LOCAL_SIG:
        raise DamagedArchive(f"no local header where {entry.name!r} should start")
    if method != entry.method:
        raise DamagedArchive(f"local and central compression methods of {entry.name!r} differ")
    length: int = LOCAL.size + name_len + extra_len
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
                raise DamagedArchive("archive ends inside a member")
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
                raise DamagedArchive("archive ends inside a member")
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
    chunks: Iterable[bytes],
    entry: Entry,
    *,
    offset: int = 0,
    length: int | None = None,
    control: WorkControl | None = None,
) -> Iterator[bytes]:
    """The uncompressed bytes (or a slice of them) of the member starting `chunks`."""
    ensure_readable(entry)
    offset, length = clamp_range(entry, offset, length)
    if length == 0:
        return
    yield from _member_bytes(ChunkReader(chunks), entry, offset, length, control)


def _member_bytes(
    reader: ChunkReader,
    entry: Entry,
    offset: int,
    length: int,
    control: WorkControl | None,
    run: Run | None = None,
) -> Iterator[bytes]:
    header = reader.read(LOCAL.size)
    header_length = local_header_length(header, entry)
    # Only the prefix up to the slice of a stored member is read (see member_range).
    size = offset + length if entry.method == STORED else entry.compressed_size
    if run is not None:
        # A local name + extra longer than the slack: one more read, of just what is missing.
        run.reach(entry.local_header_offset + header_length + size)
    reader.read(header_length - LOCAL.size)
    raw = reader.iter(size)
    out = raw if entry.method == STORED else decompress(entry, raw)
    yield from _checked(out, entry, offset, length, control)


def _checked(
    out: Iterator[bytes], entry: Entry, offset: int, length: int, control: WorkControl | None
) -> Iterator[bytes]:
    size = entry.uncompressed_size
    end = offset + length
    pos = 0
    crc = 0
    inflating = entry.method != STORED
    for chunk in out:
        n = len(chunk)
        if control is not None:
            # Between inflate steps, not only between the chunks handed on: a slice deep
            # into a member inflates for a long time before its first byte.
            if inflating:
                control.inflated(n)
            else:
                control.step()
        if pos + n > size:
            raise DamagedArchive(f"{entry.name!r} decompresses past its declared size")
        crc = zlib.crc32(chunk, crc)
        lo, hi = max(offset - pos, 0), min(end - pos, n)
        if lo < hi:
            yield chunk if (lo, hi) == (0, n) else chunk[lo:hi]
        pos += n
        if pos >= end and end < size:
            return
    if pos != size:
        raise DamagedArchive(f"{entry.name!r} is shorter than its declared size")
    if crc != entry.crc32:
        raise DamagedArchive(f"CRC-32 mismatch in {entry.name!r}")


def read_member(
    source: RangeSource,
    entry: Entry,
    *,
    offset: int = 0,
    length: int | None = None,
    control: WorkControl | None = None,
    budget: int | None = None,
    point: SeekPoint | None = None,
) -> Iterator[bytes]:
    """Check the entry now, then return its bytes: one ranged read, two for a far stored slice
    (or for a local header longer than the slack, or from a seek point).

    Nothing is read for an empty member or slice. `budget`: the most a compressed member may
    inflate and throw away before the slice starts; more is InflateBudgetExceeded, raised
    here, before anything is read. `point`: a seek point of this (deflated) member at or
    before `offset`, where inflating starts instead of at the member's beginning.
    """
    ensure_readable(entry)
    if entry.uncompressed_size == 0 and entry.crc32 != 0:
        # The CRC-32 of no bytes is 0: nothing is read for an empty member, so this is the
        # one check it gets (found by atheris).
        raise DamagedArchive(f"CRC-32 mismatch in {entry.name!r}")
    offset, length = clamp_range(entry, offset, length)
    if length == 0:
        return iter(())
    skip = offset - (point.out if point is not None else 0)
    if entry.method != STORED and budget is not None and skip > budget:
        raise InflateBudgetExceeded(
            f"a range starting {offset} bytes into {entry.name!r} would inflate more than"
            f" {budget} bytes before its first byte; ask for an earlier range"
        )
    if point is not None:
        header = source.read(entry.local_header_offset, max_header_length(entry))
        start = entry.local_header_offset + local_header_length(header, entry)
        skipped = point.bit // 8
        n = entry.compressed_size - skipped
        raw = ChunkReader(source.stream(start + skipped, n)).iter(n)
        return _sliced(inflate_from(point, raw), entry, point.out, offset, length, control)
    if entry.method == STORED and offset > STORED_SEEK_THRESHOLD:
        header = source.read(entry.local_header_offset, max_header_length(entry))
        start, n = stored_slice_range(entry, local_header_length(header, entry), offset, length)
        return _steps(ChunkReader(source.stream(start, n)).iter(n), control)
    start, n = member_range(entry, source.size, offset=offset, length=length)
    run = Run(source, start, n)
    return _member_bytes(ChunkReader(run), entry, offset, length, control, run)


def _sliced(
    out: Iterator[bytes],
    entry: Entry,
    pos: int,
    offset: int,
    length: int,
    control: WorkControl | None,
) -> Iterator[bytes]:
    """`_checked` for output that starts at `pos`, past the member's beginning: the sizes are
    checked, the CRC cannot be (it needs every byte)."""
    end = offset + length
    for chunk in out:
        n = len(chunk)
        if control is not None:
            control.inflated(n)
        if pos + n > entry.uncompressed_size:
            raise DamagedArchive(f"{entry.name!r} decompresses past its declared size")
        lo, hi = max(offset - pos, 0), min(end - pos, n)
        if lo < hi:
            yield chunk if (lo, hi) == (0, n) else chunk[lo:hi]
        pos += n
        if pos >= end:
            return
    raise DamagedArchive(f"{entry.name!r} is shorter than its declared size")


def _steps(chunks: Iterator[bytes], control: WorkControl | None) -> Iterator[bytes]:
    for chunk in chunks:
        if control is not None:
            control.step()
        yield chunk


class Run:
    """One ranged read of an archive that can be lengthened at its end (`reach`): a member
    whose local header is longer than the slack then costs a second read of what is missing,
    instead of being refused. The total stays clamped at the archive's end."""

    def __init__(self, source: RangeSource, start: int, length: int) -> None:
        self._source = source
        self.end = start + length
        self._streams: list[Iterator[bytes]] = [iter(source.stream(start, length))]

    def __iter__(self) -> Run:
        return self

    def __next__(self) -> bytes:
        while self._streams:
            chunk = next(self._streams[0], None)
            if chunk is not None:
                return chunk
            _close(self._streams.pop(0))
        raise StopIteration

    def reach(self, end: int) -> None:
        end = min(end, self._source.size)
        if end > self.end:
            self._streams.append(iter(self._source.stream(self.end, end - self.end)))
            self.end = end

    def close(self) -> None:
        for stream in self._streams:
            _close(stream)
        self._streams.clear()


def _close(stream: Iterator[bytes]) -> None:
    closer = getattr(stream, "close", None)
    if closer is not None:
        closer()
