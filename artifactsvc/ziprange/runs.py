"""An external sort of byte strings: sorted runs spilled to one temporary file, merged back.

The tree section (`treebuild`) sorts every entry of an archive by folder and name; holding a
million names to sort them would break the build's bounded memory, so items are buffered up
to `run_bytes`, sorted in memory (bytes compare in C), written as one run, and the runs are
merged with `heapq.merge`, each run read through its own small buffer with `os.pread` (one
file descriptor for all of them). More than `fan_in` runs are first merged in groups into
longer runs, so the merge's buffers stay `fan_in * block` bytes whatever the archive's size.
"""

from __future__ import annotations

import heapq
import os
import struct
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

_LEN = struct.Struct("<I")


class SortedRuns:
    """Byte strings added in any order, given back sorted (byte order), from spilled runs."""

    def __init__(
        self,
        spill_dir: str | None = None,
        *,
        run_bytes: int = 4 << 20,
        fan_in: int = 64,
        block: int = 64 << 10,
    ) -> None:
        self._dir = spill_dir
        self._run_bytes = run_bytes
        self._fan_in = fan_in
        self._block = block
        self._items: list[bytes] = []
        self._held = 0
        # Opened at the first spill: most sorts (a folder's children) fit in memory.
        self._file: BinaryIO | None = None
        self._runs: list[tuple[int, int]] = []
        self.count = 0

    def add(self, item: bytes) -> None:
        self._items.append(item)
        # Python's own overhead per bytes object (~33 bytes plus the list slot) counts too.
        self._held += len(item) + 41
        self.count += 1
        if self._held >= self._run_bytes:
            self._spill()

    def extend(self, items: list[bytes], size: int) -> None:
        """Add many at once (`size`: their bytes), for callers in a hot loop."""
        self._items.extend(items)
        self._held += size + 41 * len(items)
        self.count += len(items)
        if self._held >= self._run_bytes:
            self._spill()

    def _spill(self) -> None:
        if not self._items:
            return
        self._items.sort()
        if self._file is None:
            self._file = tempfile.TemporaryFile(dir=self._dir)  # noqa: SIM115 (close())
        self._runs.append(_write_run(self._file, self._items))
        self._items = []
        self._held = 0

    def __iter__(self) -> Iterator[bytes]:
        """Every item, sorted; the runs are merged as they are read (once)."""
        if not self._runs:
            self._items.sort()
            yield from self._items
            return
        self._spill()
        source, runs = self._file, self._runs
        assert source is not None
        while len(runs) > self._fan_in:
            merged = tempfile.TemporaryFile(dir=self._dir)  # noqa: SIM115 (becomes _file)
            groups = [runs[i : i + self._fan_in] for i in range(0, len(runs), self._fan_in)]
            runs = [_write_run(merged, self._merge(source, group)) for group in groups]
            source.close()
            source = merged
        self._file = source
        yield from self._merge(source, runs)

    def _merge(self, source: BinaryIO, runs: list[tuple[int, int]]) -> Iterator[bytes]:
        fd = source.fileno()
        return heapq.merge(*(_read_run(fd, start, end, self._block) for start, end in runs))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._items = []

    def __enter__(self) -> SortedRuns:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _write_run(out: BinaryIO, items: Iterator[bytes] | list[bytes]) -> tuple[int, int]:
    start = out.seek(0, os.SEEK_END)
    batch: list[bytes] = []
    size = 0
    for item in items:
        batch.append(_LEN.pack(len(item)))
        batch.append(item)
        size += len(item)
        if size >= 1 << 20:
            out.write(b"".join(batch))
            batch.clear()
            size = 0
    out.write(b"".join(batch))
    out.flush()
    return start, out.tell()


def _read_run(fd: int, start: int, end: int, block: int) -> Iterator[bytes]:
    unpack = _LEN.unpack_from
    buf = b""
    pos = 0
    while True:
        avail = len(buf)
        while pos + 4 <= avail:
            (n,) = unpack(buf, pos)
            stop = pos + 4 + n
            if stop > avail:
                break
            yield buf[pos + 4 : stop]
            pos = stop
        if start >= end:
            if pos != avail:
                raise OSError("sort run truncated")
            return
        size = min(block, end - start)
        buf = buf[pos:] + os.pread(fd, size, start)
        start += size
        pos = 0
