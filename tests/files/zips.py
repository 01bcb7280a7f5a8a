"""Archives for the single-file tests: zipfile and stream_zip for honest ones, `raw_zip` for the
rest (a few dozen lines that write exactly the headers asked for, lies included)."""

from __future__ import annotations

import io
import random
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, ZIP_32, ZIP_64, stream_zip

from tests.ziprange.zipkit import _Unseekable

WHEN = datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC)
DATE_TIME = (2024, 5, 6, 7, 8, 10)
LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
EOCD = struct.Struct("<4sHHHHIIH")
STORED, DEFLATED, DEFLATE64, BZIP2, LZMA = 0, 8, 9, 12, 14
UNIX = 3 << 8 | 20


def noise(size: int, seed: int) -> bytes:
    """Incompressible bytes, reproducible."""
    return random.Random(seed).randbytes(size)


def text(size: int, seed: int) -> bytes:
    """Compressible but not trivial text."""
    rng = random.Random(seed)
    words = [b"artifact", b"runner", b"pipeline", b"job", b"stage", b"cache", b"zip", b"\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def deflate_raw(data: bytes, *, level: int = 6, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
    return packer.compress(data) + packer.flush()


@dataclass(frozen=True)
class Member:
    """One zipfile member: a file (data), a directory (name ends in /) or a symlink (target)."""

    name: str
    data: bytes = b""
    method: int = zipfile.ZIP_STORED
    symlink: bool = False


def zipfile_bytes(members: Iterable[Member], *, seekable: bool = True) -> bytes:
    """An archive written by zipfile; unseekable output gives every member a data descriptor."""
    buf: io.BytesIO | _Unseekable = io.BytesIO() if seekable else _Unseekable()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name" is deliberate
        with zipfile.ZipFile(buf, "w") as archive:
            for member in members:
                info = zipfile.ZipInfo(member.name, date_time=DATE_TIME)
                info.create_system = 3
                info.compress_type = member.method
                if member.symlink:
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                elif member.name.endswith("/"):
                    info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                else:
                    info.external_attr = (stat.S_IFREG | 0o640) << 16
                archive.writestr(info, member.data)
    return buf.getvalue() if isinstance(buf, io.BytesIO) else bytes(buf.data)


def stream_zip_members(count: int, *, every: int = 1) -> Iterator[tuple[str, bytes, object]]:
    """(name, data, stream_zip method) for `count` tiny members, methods cycling.

    The first member is zip64 so stream_zip writes zip64 end records past 65,535 entries.
    """
    methods = (ZIP_32, NO_COMPRESSION_32, ZIP_64, NO_COMPRESSION_64)
    for i in range(count):
        method = NO_COMPRESSION_64 if i == 0 else methods[i % len(methods)]
        yield f"d{i % 97}/f{i}.txt", (b"entry %d\n" % i) * (1 + i % every), method


def stream_zip_chunks(members: Iterable[tuple[str, bytes, object]]) -> Iterator[bytes]:
    return stream_zip(
        ((name, WHEN, 0o100644, method, (data,)) for name, data, method in members),
        chunk_size=1 << 20,
    )


@dataclass
class Raw:
    """A member written verbatim by `raw_zip`; every field that a broken archive lies about."""

    name: bytes
    stored: bytes  # the bytes after the local header, as stored (compressed or not)
    plain: bytes = b""  # uncompressed content, for the default CRC and size
    method: int = STORED
    flags: int = 0
    external: int = (stat.S_IFREG | 0o644) << 16
    made_by: int = UNIX
    crc: int | None = None
    usize: int | None = None
    local_extra: bytes = b""
    local_name_len: int | None = None  # a lie in the local header only
    local_extra_len: int | None = None
    share_previous: bool = False  # point the central entry at the previous member's header
    extra_central: bytes = field(default=b"")


def raw_zip(members: Iterable[Raw]) -> bytes:
    out = bytearray()
    central = bytearray()
    count = 0
    previous = 0
    for m in members:
        crc = zlib.crc32(m.plain) if m.crc is None else m.crc
        usize = len(m.plain) if m.usize is None else m.usize
        if m.share_previous:
            offset = previous
        else:
            offset = previous = len(out)
            out += LOCAL.pack(
                b"PK\x03\x04",
                20,
                m.flags,
                m.method,
                0,
                0x58A6,
                crc,
                len(m.stored),
                usize,
                len(m.name) if m.local_name_len is None else m.local_name_len,
                len(m.local_extra) if m.local_extra_len is None else m.local_extra_len,
            )
            out += m.name + m.local_extra + m.stored
        central += CENTRAL.pack(
            b"PK\x01\x02",
            m.made_by,
            20,
            m.flags,
            m.method,
            0,
            0x58A6,
            crc,
            len(m.stored),
            usize,
            len(m.name),
            len(m.extra_central),
            0,
            0,
            0,
            m.external,
            offset,
        )
        central += m.name + m.extra_central
        count += 1
    cd_offset = len(out)
    out += central
    out += EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, 0)
    return bytes(out)


def central_directory_span(data: bytes) -> tuple[int, int]:
    """(offset, size) of the central directory, as Python's zipfile finds it."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        start = archive.start_dir
    end = data.rfind(b"PK\x06\x06")  # zip64 end record, if any, follows the directory
    if end < start:
        end = data.rfind(b"PK\x05\x06")
    return start, end - start


def infos(data: bytes) -> dict[str, zipfile.ZipInfo]:
    """Entry name -> first ZipInfo of that name."""
    found: dict[str, zipfile.ZipInfo] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            found.setdefault(info.filename, info)
    return found


class _Bits:
    """Deflate's bit order: values LSB first, Huffman codes MSB first."""

    def __init__(self) -> None:
        self.acc = self.count = 0
        self.out = bytearray()

    def value(self, value: int, count: int) -> None:
        self.acc |= value << self.count
        self.count += count
        while self.count >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.count -= 8

    def code(self, code: int, length: int) -> None:
        self.value(int(f"{code:0{length}b}"[::-1], 2), length)

    def literal(self, byte: int) -> None:
        if byte < 144:
            self.code(0x30 + byte, 8)
        else:
            self.code(0x190 + byte - 144, 9)

    def done(self) -> bytes:
        if self.count:
            self.out.append(self.acc & 0xFF)
        return bytes(self.out)


def deflate64_far_copy(prefix: bytes, length: int, distance: int) -> tuple[bytes, bytes]:
    """A Deflate64 stream only Deflate64 decodes: `prefix` as fixed-Huffman literals, then one
    copy of `length` bytes from `distance` back, with length code 285 (16 extra bits in
    Deflate64, none in Deflate) and distance code 30 (beyond Deflate's 32 KiB window).
    Returns (compressed, uncompressed)."""
    assert 32769 <= distance < 49153 and distance <= len(prefix) and length >= 3
    bits = _Bits()
    bits.value(1, 1)  # BFINAL
    bits.value(1, 2)  # BTYPE 01: fixed Huffman codes
    for byte in prefix:
        bits.literal(byte)
    bits.code(0xC0 + 285 - 280, 8)
    bits.value(length - 3, 16)
    bits.code(30, 5)
    bits.value(distance - 32769, 14)
    bits.code(0, 7)  # end of block (256)
    out = bytearray(prefix)
    for _ in range(length):
        out.append(out[-distance])
    return bits.done(), bytes(out)
