"""Many archive downloads at once: the server's memory, and the aggregate throughput against
as many direct presigned GETs from the store.

Both sides are read by the same lean client (asyncio streams, a raw HTTP/1.1 GET each, bytes
counted and dropped), so the client's own cost is the same for the service and the baseline;
httpx would spend more CPU than the server on this 2-core machine.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.world import ADMIN_TOKEN, PROJECT, World

READ = 1 << 20
STREAMS = 100
MEMORY_GOAL = "< 100"  # MiB in total, whatever the number of streams


@dataclass(frozen=True)
class Concurrent:
    streams: int
    seconds: float
    received: int

    @property
    def mbps(self) -> float:
        return self.received / 1e6 / self.seconds


async def _get(url: str, headers: dict[str, str]) -> int:
    """One GET of `url`, its body read and dropped: the bytes received."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        if status != b"200":
            raise RuntimeError(f"GET {url}: {head[:200]!r}")
        received = 0
        while chunk := await reader.read(READ):
            received += len(chunk)
        return received
    finally:
        writer.close()


async def _all(urls: list[str], headers: dict[str, str]) -> Concurrent:
    start = time.perf_counter()
    sizes = await asyncio.gather(*(_get(url, headers) for url in urls))
    return Concurrent(len(urls), time.perf_counter() - start, sum(sizes))


def through_service(base_url: str, job_id: int, streams: int = STREAMS) -> Concurrent:
    url = f"{base_url}/api/v4/projects/{PROJECT}/jobs/{job_id}/artifacts"
    return asyncio.run(_all([url] * streams, {"PRIVATE-TOKEN": ADMIN_TOKEN}))


def presigned(world: World, job_id: int, streams: int = STREAMS) -> Concurrent:
    s3 = world.s3()
    key = world.archive_key(job_id)
    urls = [
        s3.generate_presigned_url("get_object", Params={"Bucket": world.bucket, "Key": key})
        for _ in range(streams)
    ]
    return asyncio.run(_all(urls, {}))
