"""Check that members' byte ranges neither overlap nor reach into the central directory.

Overlapping members are how non-recursive zip bombs multiply one compressed kernel into many
entries, and no honest archiver writes them. A member's extent is known only from below
(30-byte local header + name + compressed data + a 12-byte data descriptor when flagged; the
local extra field is unknown until read), which is enough: any two extents that overlap even
at that lower bound are rejected.

Archivers write the central directory in the order of the members, so the common case is a
running check in O(1) memory. Extents are also spilled in sorted runs to a temp file (16 bytes
an entry), so that when the directory turns out not to be in offset order an external merge
still checks them with memory bounded by one run.
"""

from __future__ import annotations

import heapq
import struct
import tempfile
from array import array
from collections.abc import Iterator
from typing import BinaryIO

from artifactsvc.errors import CorruptArchive
from artifactsvc.ziprange.central import FLAG_DATA_DESCRIPTOR, Entry

LOCAL_HEADER_LEN = 30
_RUN = 1 << 16
_PAIR = struct.Struct("<QQ")


class ExtentCheck:
    """Feed every entry to `add`, then call `finish`; either raises CorruptArchive.

    Use it as a context manager: it owns a temp file.
    """

    def __init__(self, limit: int, *, spill_dir: str | None = None) -> None:
        self._limit = limit
        self._prev_end = 0
        self._in_order = True
        self._run = array("Q")
        self._runs: list[int] = []
        self._spill: BinaryIO = tempfile.TemporaryFile(dir=spill_dir)  # noqa: SIM115

    def add(self, entry: Entry) -> None:
        # `extent` inlined: this runs once per entry of every index build.
        start = entry.local_header_offset
        end = start + LOCAL_HEADER_LEN + len(entry.raw_name) + entry.compressed_size
        if entry.flags & FLAG_DATA_DESCRIPTOR:
            end += 12
        if end > self._limit:
            raise CorruptArchive(f"member {entry.name!r} reaches past the start of the directory")
        if start < self._prev_end:
            self._in_order = False
        self._prev_end = end
        run = self._run
        run.append(start)
        run.append(end)
        if len(run) >= 2 * _RUN:
            self._flush()

    def finish(self) -> None:
        if not self._in_order:
            self._flush()
            self._merge_check()

    def close(self) -> None:
        self._spill.close()

    def __enter__(self) -> ExtentCheck:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush(self) -> None:
        if not self._run:
            return
        if not self._in_order:
            pairs = sorted(zip(self._run[::2], self._run[1::2], strict=True))
            self._run = array("Q", [v for pair in pairs for v in pair])
        self._runs.append(len(self._run) // 2)
        self._spill.write(self._run.tobytes())
        self._run = array("Q")

    def _merge_check(self) -> None:
        streams = []
        pos = 0
        for count in self._runs:
            streams.append(self._read_run(pos, count))
            pos += count * _PAIR.size
        prev_end = 0
        for start, end in heapq.merge(*streams):
            if start < prev_end:
                raise CorruptArchive(f"members overlap at offset {start}")
            prev_end = end

    def _read_run(self, pos: int, count: int) -> Iterator[tuple[int, int]]:
        # Runs of a directory found out of order are sorted before they are written; runs
        # written while it still looked ordered are ordered already.
        block = 4096
        while count > 0:
            n = min(block, count)
            self._spill.seek(pos)
            data = self._spill.read(n * _PAIR.size)
            pos += len(data)
            count -= n
            yield from _PAIR.iter_unpack(data)
