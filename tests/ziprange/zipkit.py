"""Real zips for the ziprange tests: built with zipfile or stream_zip, then patched by offset."""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from stream_zip import ZIP_32, stream_zip

from artifactsvc.ziprange import BytesSource, IndexDirectory, build_index

WHEN = datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC)
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
LOCAL = struct.Struct("<4sHHHHHIIIHH")

Member = tuple[str, bytes, int]  # name, data, zipfile compress_type


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        chunk = bytes(b)  # type: ignore[call-overload]
        self.data += chunk
        return len(chunk)


def make_zip(members: Iterable[Member], *, comment: bytes = b"", seekable: bool = True) -> bytes:
    """A zip from zipfile; written to an unseekable stream, every member gets a data descriptor."""
    buf: io.BytesIO | _Unseekable = io.BytesIO() if seekable else _Unseekable()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, method in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 6, 7, 8, 10))
            info.compress_type = method
            info.external_attr = (0o40755 if name.endswith("/") else 0o100644) << 16
            zf.writestr(info, data)
        zf.comment = comment
    return buf.getvalue() if isinstance(buf, io.BytesIO) else bytes(buf.data)


def add_info(data: bytes, info: zipfile.ZipInfo, payload: bytes) -> bytes:
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr(info, payload)
    return buf.getvalue()


def stream_zip_bytes(members: Iterable[tuple[str, bytes]], *, method: object = ZIP_32) -> bytes:
    return b"".join(stream_zip((n, WHEN, 0o100644, method, (d,)) for n, d in members))


def tiny_members(count: int, prefix: str = "d") -> Iterator[tuple[str, bytes]]:
    for i in range(count):
        yield f"{prefix}{i % 97}/f{i}.txt", b"" if i % 3 else str(i).encode()


@dataclass
class Indexed:
    archive: bytes
    directory: IndexDirectory
    sidecar: bytes


def index_of(archive: bytes, *, etag: str = '"etag"') -> Indexed:
    with tempfile.TemporaryFile() as out:
        directory = build_index(BytesSource(archive), out, etag=etag)
        out.seek(0)
        return Indexed(archive, directory, out.read())


# Patching helpers: locate headers by walking a small (non-zip64) archive's central directory.


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


def patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
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


def data_offset(data: bytes, name: str) -> int:
    local = local_offset(data, name)
    n, m = struct.unpack_from("<HH", data, local + 26)
    return local + 30 + n + m


def reorder_central(data: bytes, order: str = "reverse") -> bytes:
    """The same archive with its central-directory records in another order."""
    from artifactsvc.ziprange.eocd import locate_central_directory

    loc = locate_central_directory(BytesSource(data))
    records, pos = [], loc.cd_offset
    while pos < loc.cd_offset + loc.cd_size:
        fields = CENTRAL.unpack_from(data, pos)
        end = pos + 46 + fields[10] + fields[11] + fields[12]
        records.append(data[pos:end])
        pos = end
    assert order == "reverse"
    records.reverse()
    return data[: loc.cd_offset] + b"".join(records) + data[pos:]
