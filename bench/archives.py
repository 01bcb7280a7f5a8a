"""Archives for the benchmarks, streamed to files with stream_zip; never held in memory.

Member bytes are random (incompressible), so an archive's size is what it claims to be.
Everything is seeded, so two runs build byte-identical archives.
"""

from __future__ import annotations

import random
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, ZIP_32, MemberFile, stream_zip

MODIFIED = datetime(2024, 5, 1, 12, 0, 0)
MODE = stat.S_IFREG | 0o644
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Built:
    path: Path
    names: list[str]

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def _random_chunks(rng: random.Random, size: int) -> Iterator[bytes]:
    while size > 0:
        n = min(size, _BLOCK)
        yield rng.randbytes(n)
        size -= n


def _write(path: Path, members: Iterable[MemberFile], *, level: int = 1) -> None:
    # Level 1: random bytes do not compress at any level, so only the build time differs.
    def compressobj() -> zlib._Compress:
        return zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)

    with path.open("wb") as out:
        for chunk in stream_zip(members, chunk_size=_BLOCK, get_compressobj=compressobj):
            out.write(chunk)


def build_files_archive(path: Path, *, total_bytes: int, entries: int, seed: int = 1) -> Built:
    """`entries` deflated members of random bytes, sizes varying about the mean, ~`total_bytes`."""
    rng = random.Random(seed)
    weights = [rng.uniform(0.1, 1.9) for _ in range(entries)]
    scale = total_bytes / sum(weights)
    names = [f"build/dir{i % 97:02d}/sub{i % 13:02d}/file-{i:06d}.bin" for i in range(entries)]
    sizes = [max(1, int(w * scale)) for w in weights]

    def members() -> Iterator[MemberFile]:
        for name, size in zip(names, sizes, strict=True):
            yield name, MODIFIED, MODE, ZIP_32, _random_chunks(rng, size)

    _write(path, members())
    return Built(path, names)


def build_stream_archive(
    path: Path, *, total_bytes: int, member_bytes: int, seed: int = 2
) -> Built:
    """Stored members of random bytes, `member_bytes` each, `total_bytes` in all."""
    rng = random.Random(seed)
    count = max(1, total_bytes // member_bytes)
    names = [f"images/layer-{i:05d}.tar" for i in range(count)]

    def members() -> Iterator[MemberFile]:
        for name in names:
            # NO_COMPRESSION_32 buffers one member to learn its CRC: a few MiB, bounded.
            yield name, MODIFIED, MODE, NO_COMPRESSION_32, _random_chunks(rng, member_bytes)

    _write(path, members())
    return Built(path, names)


def build_many_entries_archive(path: Path, *, entries: int) -> None:
    """`entries` tiny stored members: an archive whose central directory is most of its size.

    stream_zip keeps its central directory in memory until the end, so this runs in a
    subprocess of its own (see `indexwork`).
    """

    def members() -> Iterator[MemberFile]:
        for i in range(entries):
            data = f"{i}\n".encode()
            method = NO_COMPRESSION_64(len(data), zlib.crc32(data))
            name = f"pkg{i // 1000:04d}/mod{i // 10 % 100:02d}/file-{i:07d}.txt"
            yield name, MODIFIED, MODE, method, (data,)

    _write(path, members())
