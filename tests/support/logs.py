"""A job's whole log, read as the service streams it (`jobs.log_chunks`)."""

from __future__ import annotations

from artifactsvc.jobs import log_chunks
from artifactsvc.metadata import TraceStore


async def whole_log(traces: TraceStore, job_id: int) -> bytes | None:
    """None for a job without a log; else its bytes up to the size it has now."""
    size = await traces.trace_size(job_id)
    if size is None:
        return None
    return b"".join([chunk async for chunk in log_chunks(traces, job_id, size)])
