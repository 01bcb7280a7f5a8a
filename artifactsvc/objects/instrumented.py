"""An ObjectStore decorator that counts requests by verb (for /metrics)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime

from artifactsvc.objects.port import DEFAULT_CHUNK_SIZE, DEFAULT_PART_SIZE, ObjectInfo, ObjectStore


class InstrumentedObjectStore:
    def __init__(self, inner: ObjectStore, count: Callable[[str], None]) -> None:
        self.inner = inner
        self._count = count

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, part_size: int = DEFAULT_PART_SIZE
    ) -> ObjectInfo:
        self._count("put")
        return await self.inner.put_stream(key, chunks, part_size=part_size)

    async def head(self, key: str) -> ObjectInfo:
        self._count("head")
        return await self.inner.head(key)

    async def get_range(
        self, key: str, start: int, length: int, *, etag: str | None = None
    ) -> bytes:
        self._count("get")
        return await self.inner.get_range(key, start, length, etag=etag)

    def stream(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        etag: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        self._count("get")
        return self.inner.stream(key, start, length, etag=etag, chunk_size=chunk_size)

    async def delete(self, key: str) -> None:
        self._count("delete")
        await self.inner.delete(key)

    @property
    def can_presign(self) -> bool:
        return self.inner.can_presign

    async def presign(self, key: str, *, disposition: str, expires_in: int = 300) -> str:
        return await self.inner.presign(key, disposition=disposition, expires_in=expires_in)

    async def ping(self) -> None:
        await self.inner.ping()

    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        self._count("list")
        return self.inner.list(prefix)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        return await self.inner.abort_stale_uploads(older_than)
