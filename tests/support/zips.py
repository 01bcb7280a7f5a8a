"""Honest zip archives for tests, and reading them back: zipfile (`make_zip`), stream_zip,
large ones generated as they are read; the index the service builds for one.

Archives that lie about themselves are built in `tests.support.lying_zips`."""

from __future__ import annotations

import io
import random
import stat
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, ZIP_32, ZIP_64, stream_zip

from artifactsvc.ziprange import BytesSource, IndexDirectory, build_index

MiB = 1 << 20
WHEN = datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC)
DATE_TIME = (2024, 5, 6, 7, 8, 10)
STORED, DEFLATED, DEFLATE64, BZIP2, LZMA = 0, 8, 9, 12, 14


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


# -- honest archives ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One zipfile member: a file (data), a directory (name ends in /) or a symlink (target)."""

    name: str
    data: bytes = b""
    method: int = STORED
    symlink: bool = False
    mode: int = 0o644  # a file's permission bits


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        chunk = bytes(b)
        self.data += chunk
        return len(chunk)


def make_zip(
    members: Iterable[Member | tuple[str, bytes, int]],
    *,
    comment: bytes = b"",
    seekable: bool = True,
) -> bytes:
    """An archive written by zipfile (Unix attributes, one fixed time) from `Member`s, or
    (name, data, method) for short; written unseekable, every member gets a data descriptor.
    Duplicate names are kept."""
    buf: io.BytesIO | _Unseekable = io.BytesIO() if seekable else _Unseekable()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        with zipfile.ZipFile(buf, "w") as archive:
            for given in members:
                member = given if isinstance(given, Member) else Member(*given)
                info = zipfile.ZipInfo(member.name, date_time=DATE_TIME)
                info.create_system = 3
                info.compress_type = member.method
                if member.symlink:
                    info.external_attr = (stat.S_IFLNK | 0o777) << 16
                elif member.name.endswith("/"):
                    info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                else:
                    info.external_attr = (stat.S_IFREG | member.mode) << 16
                archive.writestr(info, member.data)
            archive.comment = comment
    return buf.getvalue() if isinstance(buf, io.BytesIO) else bytes(buf.data)


def sample_zip(seed: int = 0) -> bytes:
    """A small archive (Deflate and Store members) whose bytes depend on `seed`."""
    return make_zip(
        [
            Member("dist/app.js", b"console.log('hello');\n" * 200, DEFLATED),
            Member("dist/blob.bin", noise(64 * 1024, seed), STORED),
            Member("README.md", f"seed {seed}\n".encode(), DEFLATED),
        ]
    )


def sized_zip(size: int, *, seed: int = 0) -> bytes:
    """An archive of about `size` bytes: one member of incompressible bytes."""
    return make_zip([Member("data.bin", noise(max(0, size - 200), seed), DEFLATED)])


def add_info(data: bytes, info: zipfile.ZipInfo, payload: bytes) -> bytes:
    """`data` with one more member, described by `info` as zipfile writes it."""
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as archive:
        archive.writestr(info, payload)
    return buf.getvalue()


def stream_zip_chunks(members: Iterable[tuple[str, bytes, Any]]) -> Iterator[bytes]:
    """(name, data, stream_zip method) members, zipped by stream_zip as they are read."""
    yield from stream_zip(
        ((name, WHEN, 0o100644, method, (data,)) for name, data, method in members),
        chunk_size=MiB,
    )


def stream_zip_bytes(members: Iterable[tuple[str, bytes]], *, method: Any = ZIP_32) -> bytes:
    return b"".join(stream_zip_chunks((name, data, method) for name, data in members))


def stream_zip_members(count: int, *, every: int = 1) -> Iterator[tuple[str, bytes, Any]]:
    """`count` tiny members, methods cycling; the first is zip64, so stream_zip writes zip64
    end records past 65,535 entries."""
    methods = (ZIP_32, NO_COMPRESSION_32, ZIP_64, NO_COMPRESSION_64)
    for i in range(count):
        method = NO_COMPRESSION_64 if i == 0 else methods[i % len(methods)]
        yield f"d{i % 97}/f{i}.txt", (b"entry %d\n" % i) * (1 + i % every), method


def tiny_members(count: int, prefix: str = "d") -> Iterator[tuple[str, bytes]]:
    for i in range(count):
        yield f"{prefix}{i % 97}/f{i}.txt", b"" if i % 3 else str(i).encode()


def _random_chunks(size: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    left = size
    while left:
        step = min(MiB, left)
        yield rng.randbytes(step)
        left -= step


def large_zip(size: int) -> Iterator[bytes]:
    """An archive of a little over `size` bytes, generated as it is read (never held whole):
    stored members of pseudo-random bytes (CRCs from a first pass over the same generator)
    and one deflated text member, `logs/build.log`."""
    each = size // 4
    modified = datetime(2024, 1, 2, 3, 4, 5)

    def crc(seed: int) -> int:
        value = 0
        for piece in _random_chunks(each, seed):
            value = zlib.crc32(piece, value)
        return value

    def files() -> Iterator[tuple[str, datetime, int, Any, Iterable[bytes]]]:
        yield ("logs/build.log", modified, 0o644, ZIP_64, [b"compiling...\n" * 50_000])
        for n in range(4):
            method = NO_COMPRESSION_64(each, crc(n))
            yield (f"bin/part-{n}.bin", modified, 0o644, method, _random_chunks(each, n))

    yield from stream_zip(files(), chunk_size=MiB)


# -- reading an archive back -------------------------------------------------------------------


def infos(data: bytes) -> dict[str, zipfile.ZipInfo]:
    """Entry name -> first ZipInfo of that name."""
    found: dict[str, zipfile.ZipInfo] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            found.setdefault(info.filename, info)
    return found


def central_directory_span(data: bytes) -> tuple[int, int]:
    """(offset, size) of the central directory, as Python's zipfile finds it."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        start = archive.start_dir
    end = data.rfind(b"PK\x06\x06")  # zip64 end record, if any, follows the directory
    if end < start:
        end = data.rfind(b"PK\x05\x06")
    return start, end - start


@dataclass
class Indexed:
    archive: bytes
    directory: IndexDirectory
    sidecar: bytes


def index_of(archive: bytes, *, etag: str = '"etag"') -> Indexed:
    """The index the service would build for `archive`: its directory and sidecar bytes."""
    with tempfile.TemporaryFile() as out:
        directory = build_index(BytesSource(archive), out, etag=etag)
        out.seek(0)
        return Indexed(archive, directory, out.read())
