"""Zip archives that lie: `raw_zip` writes exactly the headers asked for (wrong sizes, CRCs,
name lengths, shared local headers); `patch` and the `set_*` helpers rewrite the fields of a
real archive by offset; `deflate64_far_copy` is a stream only a Deflate64 inflater decodes."""

from __future__ import annotations

import stat
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from artifactsvc.ziprange import BytesSource, locate_central_directory
from tests.support.zips import STORED

LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
EOCD = struct.Struct("<4sHHHHIIH")
UNIX = 3 << 8 | 20


def deflate_raw(data: bytes, *, level: int = 6, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> bytes:
    """A raw Deflate stream (no zlib header), as a zip member stores it."""
    packer = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
    return packer.compress(data) + packer.flush()


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
    extra_central: bytes = b""


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
            name_len = len(m.name) if m.local_name_len is None else m.local_name_len
            extra_len = len(m.local_extra) if m.local_extra_len is None else m.local_extra_len
            out += LOCAL.pack(
                b"PK\x03\x04", 20, m.flags, m.method, 0, 0x58A6, crc, len(m.stored), usize,
                name_len, extra_len,
            )  # fmt: skip
            out += m.name + m.local_extra + m.stored
        central += CENTRAL.pack(
            b"PK\x01\x02", m.made_by, 20, m.flags, m.method, 0, 0x58A6, crc, len(m.stored),
            usize, len(m.name), len(m.extra_central), 0, 0, 0, m.external, offset,
        )  # fmt: skip
        central += m.name + m.extra_central
        count += 1
    cd_offset = len(out)
    out += central
    out += EOCD.pack(b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, 0)
    return bytes(out)


# -- patching a real archive: headers found through a small (zip32) central directory ----------


def central_offsets(data: bytes) -> dict[str, int]:
    """Offset of each entry's central header, by name (small zip32 archives only)."""
    eocd = data.rindex(b"PK\x05\x06")
    count, _, cd_offset = struct.unpack_from("<HII", data, eocd + 10)
    found, pos = {}, cd_offset
    for _ in range(count):
        fields = CENTRAL.unpack_from(data, pos)
        n, m, k = fields[10], fields[11], fields[12]
        found[data[pos + 46 : pos + 46 + n].decode("utf-8", "replace")] = pos
        pos += 46 + n + m + k
    return found


def local_offset(data: bytes, name: str) -> int:
    return int(CENTRAL.unpack_from(data, central_offsets(data)[name])[16])


def data_offset(data: bytes, name: str) -> int:
    local = local_offset(data, name)
    name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
    return local + 30 + int(name_len) + int(extra_len)


def patch(data: bytes, offset: int, fmt: str, *values: int | bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def set_sizes(
    data: bytes, name: str, *, usize: int | None = None, csize: int | None = None
) -> bytes:
    """Rewrite a member's declared sizes in both its central and its local header."""
    cd, local = central_offsets(data)[name], local_offset(data, name)
    if csize is not None:
        data = patch(patch(data, cd + 20, "<I", csize), local + 18, "<I", csize)
    if usize is not None:
        data = patch(patch(data, cd + 24, "<I", usize), local + 22, "<I", usize)
    return data


def set_flags(data: bytes, name: str, flags: int) -> bytes:
    cd, local = central_offsets(data)[name], local_offset(data, name)
    return patch(patch(data, cd + 8, "<H", flags), local + 6, "<H", flags)


def set_method(data: bytes, name: str, method: int) -> bytes:
    cd, local = central_offsets(data)[name], local_offset(data, name)
    return patch(patch(data, cd + 10, "<H", method), local + 8, "<H", method)


def reverse_central(data: bytes) -> bytes:
    """The same archive with its central-directory records in reverse order."""
    loc = locate_central_directory(BytesSource(data))
    records, pos = [], loc.cd_offset
    while pos < loc.cd_offset + loc.cd_size:
        fields = CENTRAL.unpack_from(data, pos)
        end = pos + 46 + fields[10] + fields[11] + fields[12]
        records.append(data[pos:end])
        pos = end
    records.reverse()
    return data[: loc.cd_offset] + b"".join(records) + data[pos:]


# -- Deflate64 ---------------------------------------------------------------------------------


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
