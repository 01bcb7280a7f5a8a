"""A small bounded cache whose entries live `ttl` seconds (monotonic clock).

Used for lookups every API request repeats (a token's user, a project, a membership), so a
change made in the database (a revoked token, a blocked user, a new role) takes effect within
`ttl` seconds, never later. `ttl` 0 caches nothing. When full, the cache is emptied: a bound
on memory, not an eviction policy, for a working set that is normally far smaller.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(
        self, ttl: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V | None]]) -> V | None:
        """The cached value, else what `load` finds (kept unless None: what is not found yet
        may be created any moment, so only what exists is remembered)."""
        found = self._entries.get(key)
        if found is not None and found[0] > self._clock():
            return found[1]
        value = await load()
        if value is not None and self.ttl > 0:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = (self._clock() + self.ttl, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
