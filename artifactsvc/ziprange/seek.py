"""Deflate seek points: start inflating a member in its middle, as zran does for gzip.

A Range deep into a large deflated member would otherwise inflate everything before it. At
index time each large member is inflated once (`scan`); every `spacing` bytes of output, at
the next deflate block boundary, a seek point is recorded: the bit offset of that block in
the compressed data, the uncompressed offset, and the 32 KiB of output before it (the window
a block may refer back into). A read (`inflate_from`) then starts at the last point before
its offset, primed with that window: about one spacing of inflating, whatever the offset.

Finding block boundaries needs zlib's `inflate(Z_BLOCK)` and its `data_type` bits, and
resuming needs `inflatePrime` (a block starts in the middle of a byte) and a dictionary;
Python's zlib module exposes none of the first two, so both calls go to the very libz CPython
links, through ctypes: zran.c's algorithm. (Shifting the bytes by the bit offset instead
would misplace the byte alignment of every stored block that follows.)
Considered and not taken (see docs/RELIABILITY.md): rapidgzip handles raw deflate, but its
memory depends on the data (over 1 GiB resident to scan 1 GiB of zeros with its default
chunking) and it runs threads of its own; the `zran` package needs the whole member in
memory; indexed_gzip reads gzip files only.

The scan checks the member as it goes (declared size, CRC-32, nothing after the stream's
end), so a damaged large member is refused at upload. Memory: one 64 KiB input chunk, one
64 KiB output buffer and a 32 KiB window at a time.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import functools
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from artifactsvc.errors import DamagedArchive
from artifactsvc.ziprange.central import Entry
from artifactsvc.ziprange.control import WorkControl

WINDOW = 32 << 10
_OUT = 64 << 10
Z_OK, Z_STREAM_END, Z_BUF_ERROR, Z_BLOCK = 0, 1, -5, 5


@dataclass(frozen=True, slots=True)
class SeekPoint:
    bit: int
    """Offset, in bits, of a deflate block in the member's compressed data."""
    out: int
    """Uncompressed offset at which that block starts."""
    window: bytes
    """The (up to) 32 KiB of output just before `out`."""


class _ZStream(ctypes.Structure):
    _fields_ = [
        ("next_in", ctypes.c_void_p),
        ("avail_in", ctypes.c_uint),
        ("total_in", ctypes.c_ulong),
        ("next_out", ctypes.c_void_p),
        ("avail_out", ctypes.c_uint),
        ("total_out", ctypes.c_ulong),
        ("msg", ctypes.c_char_p),
        ("state", ctypes.c_void_p),
        ("zalloc", ctypes.c_void_p),
        ("zfree", ctypes.c_void_p),
        ("opaque", ctypes.c_void_p),
        ("data_type", ctypes.c_int),
        ("adler", ctypes.c_ulong),
        ("reserved", ctypes.c_ulong),
    ]


@functools.cache
def _libz() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("z") or "libz.so.1")
    lib.zlibVersion.restype = ctypes.c_char_p
    lib.inflateInit2_.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.inflate.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.inflateEnd.argtypes = [ctypes.c_void_p]
    lib.inflatePrime.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.inflateSetDictionary.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
    return lib


def scan(
    raw: Iterable[bytes], entry: Entry, spacing: int, control: WorkControl | None = None
) -> Iterator[SeekPoint]:
    """Inflate the member's compressed bytes `raw` once, yielding a seek point about every
    `spacing` bytes of output; DamagedArchive when the stream contradicts the entry."""
    lib = _libz()
    stream = _ZStream()
    ref = ctypes.byref(stream)
    version = lib.zlibVersion()
    if lib.inflateInit2_(ref, -15, version, ctypes.sizeof(_ZStream)) != Z_OK:
        raise MemoryError("inflateInit2 failed")
    out = ctypes.create_string_buffer(_OUT)
    tail = bytearray()
    crc = produced = last = stalled = 0
    ended = False
    try:
        for chunk in raw:
            if not chunk:
                continue
            if ended:
                raise DamagedArchive(f"data after the end of the deflate stream of {entry.name!r}")
            data = ctypes.create_string_buffer(chunk, len(chunk))
            stream.next_in = ctypes.addressof(data)
            stream.avail_in = len(chunk)
            while True:
                stream.next_out = ctypes.addressof(out)
                stream.avail_out = _OUT
                status = lib.inflate(ref, Z_BLOCK)
                n = _OUT - stream.avail_out
                if n:
                    piece = ctypes.string_at(out, n)
                    crc = zlib.crc32(piece, crc)
                    produced += n
                    if produced > entry.uncompressed_size:
                        raise DamagedArchive(f"{entry.name!r} decompresses past its declared size")
                    tail += piece
                    if len(tail) > 2 * WINDOW:
                        del tail[:-WINDOW]
                    if control is not None:
                        control.inflated(n)
                if status == Z_STREAM_END:
                    ended = True
                    if stream.avail_in:
                        raise DamagedArchive(
                            f"data after the end of the deflate stream of {entry.name!r}"
                        )
                    break
                if status not in (Z_OK, Z_BUF_ERROR):
                    raise DamagedArchive(f"bad deflate data in {entry.name!r}")
                boundary = stream.data_type & 128 and not stream.data_type & 64
                if boundary and produced and produced - last >= spacing:
                    bit = stream.total_in * 8 - (stream.data_type & 7)
                    yield SeekPoint(bit, produced, bytes(tail[-WINDOW:]))
                    last = produced
                stalled = stalled + 1 if n == 0 and stream.avail_in == 0 else 0
                if status == Z_BUF_ERROR or stalled > 2:
                    break  # no progress without more input: the next chunk
    finally:
        lib.inflateEnd(ref)
    if not ended:
        raise DamagedArchive(f"the deflate stream of {entry.name!r} ends early")
    if produced != entry.uncompressed_size:
        raise DamagedArchive(f"{entry.name!r} is shorter than its declared size")
    if crc != entry.crc32:
        raise DamagedArchive(f"CRC-32 mismatch in {entry.name!r}")


def best_point(points: list[SeekPoint], offset: int) -> SeekPoint | None:
    """The last point at or before `offset` (None: start from the beginning)."""
    at = bisect.bisect_right([p.out for p in points], offset) - 1
    return points[at] if at >= 0 else None


def inflate_from(point: SeekPoint, raw: Iterable[bytes], chunk: int = _OUT) -> Iterator[bytes]:
    """The member's output from `point.out` on, given its compressed bytes from byte
    `point.bit // 8` on; pieces of at most `chunk` bytes. The bits of that first byte that
    belong to the previous block are skipped with zlib's inflatePrime (shifting the bytes
    instead would misplace every stored block's byte alignment)."""
    lib = _libz()
    stream = _ZStream()
    ref = ctypes.byref(stream)
    if lib.inflateInit2_(ref, -15, lib.zlibVersion(), ctypes.sizeof(_ZStream)) != Z_OK:
        raise MemoryError("inflateInit2 failed")
    out = ctypes.create_string_buffer(chunk)
    used = (8 - point.bit % 8) % 8  # bits of the first byte that are the block's
    primed = ended = False
    stalled = 0
    try:
        for data in raw:
            if not data:
                continue
            if ended:
                raise DamagedArchive("data after the end of a deflate stream")
            if not primed:
                if used:
                    lib.inflatePrime(ref, used, data[0] >> (8 - used))
                    data = data[1:]
                lib.inflateSetDictionary(ref, point.window, len(point.window))
                primed = True
                if not data:
                    continue
            buffer = ctypes.create_string_buffer(data, len(data))
            stream.next_in = ctypes.addressof(buffer)
            stream.avail_in = len(data)
            while True:
                stream.next_out = ctypes.addressof(out)
                stream.avail_out = chunk
                status = lib.inflate(ref, 0)
                n = chunk - stream.avail_out
                if n:
                    yield ctypes.string_at(out, n)
                if status == Z_STREAM_END:
                    ended = True
                    if stream.avail_in:
                        raise DamagedArchive("data after the end of a deflate stream")
                    break
                if status not in (Z_OK, Z_BUF_ERROR):
                    raise DamagedArchive("bad deflate data after a seek point")
                stalled = stalled + 1 if n == 0 and stream.avail_in == 0 else 0
                if status == Z_BUF_ERROR or stalled > 2:
                    break
    finally:
        lib.inflateEnd(ref)
    if not ended:
        raise DamagedArchive("deflate stream ends early")


# -- how seek points are stored: a table per member, found through a table of contents -------

_COUNT = struct.Struct("<I")
_TOC = struct.Struct("<QQI")  # local header offset, table offset, table length
_POINT = struct.Struct("<QQQI")  # bit, out, window offset, window length


@dataclass(frozen=True, slots=True)
class PointRef:
    """A seek point as its table holds it: the window is stored elsewhere, compressed."""

    bit: int
    out: int
    window_offset: int
    window_length: int


def encode_window(window: bytes) -> bytes:
    return zlib.compress(window, 6)


def decode_window(data: bytes) -> bytes:
    try:
        return zlib.decompress(data)
    except zlib.error:
        raise DamagedArchive("seek point window damaged") from None


def encode_table(points: list[PointRef]) -> bytes:
    return _COUNT.pack(len(points)) + b"".join(
        _POINT.pack(p.bit, p.out, p.window_offset, p.window_length) for p in points
    )


def decode_table(data: bytes) -> list[PointRef]:
    (count,) = _COUNT.unpack_from(data)
    if len(data) != _COUNT.size + count * _POINT.size:
        raise DamagedArchive("seek point table damaged")
    return [PointRef(*fields) for fields in _POINT.iter_unpack(data[_COUNT.size :])]


def encode_toc(members: list[tuple[int, int, int]]) -> bytes:
    return _COUNT.pack(len(members)) + b"".join(_TOC.pack(*m) for m in members)


def find_table(toc: bytes, local_header_offset: int) -> tuple[int, int] | None:
    """(offset, length) in the sidecar of the table of the member at `local_header_offset`."""
    (count,) = _COUNT.unpack_from(toc)
    if len(toc) != _COUNT.size + count * _TOC.size:
        raise DamagedArchive("seek point contents damaged")
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        key, offset, length = _TOC.unpack_from(toc, _COUNT.size + mid * _TOC.size)
        if key == local_header_offset:
            return offset, length
        if key < local_header_offset:
            lo = mid + 1
        else:
            hi = mid
    return None
