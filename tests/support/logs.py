"""A job's whole log, read as the service streams it: its size, then its pieces in order."""

from __future__ import annotations

from artifactsvc.metadata import TraceStore


async def whole_log(traces: TraceStore, job_id: int) -> bytes | None:
    """None for a job without a log; else every piece, up to the size read first."""
    size = await traces.trace_size(job_id)
    if size is None:
        return None
    held = bytearray()
    first = 0
    while len(held) < size:
        pieces = await traces.trace_pieces(job_id, first, 8)
        if not pieces:
            break
        for seq, content in pieces:
            held += content
            first = seq + 1
    return bytes(held[:size])
