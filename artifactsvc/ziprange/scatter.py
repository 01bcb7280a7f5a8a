"""Records tagged with their bucket, read back from a spill file and written into place.

The index's buckets and the tree's folder buckets are both built this way: a first pass
appends `(bucket, length)` + record to a spill file and counts each bucket's bytes, and this
second pass reads the spill file sequentially and copies each record to its bucket's cursor,
buffering a few MiB between flushes. Memory is one cursor per bucket plus the buffers.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from artifactsvc.errors import CorruptArchive

TAG = struct.Struct("<II")
_FLUSH_BYTES = 4 << 20
_BLOCK = 1 << 20


def scatter(spill: BinaryIO, out: BinaryIO, offsets: list[int] | tuple[int, ...]) -> None:
    """Write every tagged record of `spill` (from its position) into bucket b's place in
    `out`, offsets[b]:offsets[b + 1]; CorruptArchive unless they fill every bucket exactly."""
    cursors = list(offsets[:-1])
    pending: dict[int, bytearray] = {}
    pending_bytes = 0

    def flush() -> None:
        for bucket in sorted(pending):
            data = pending[bucket]
            out.seek(cursors[bucket])
            out.write(data)
            cursors[bucket] += len(data)
        pending.clear()

    # Once per record: the struct's method and the buffer's length are locals.
    unpack = TAG.unpack_from
    tag_size = TAG.size
    get = pending.get
    buf = b""
    while block := spill.read(_BLOCK):
        buf += block
        pos = 0
        avail = len(buf)
        while pos + tag_size <= avail:
            bucket, length = unpack(buf, pos)
            start = pos + tag_size
            end = start + length
            if end > avail:
                break
            target = get(bucket)
            if target is None:
                target = pending[bucket] = bytearray()
            target += buf[start:end]
            pending_bytes += length
            pos = end
        buf = buf[pos:]
        if pending_bytes >= _FLUSH_BYTES:
            flush()
            pending_bytes = 0
    flush()
    if buf or cursors != list(offsets[1:]):
        raise CorruptArchive("index spill inconsistent")
