"""The lookups cache (ttlcache.py, AUTH_CACHE_TTL): reused within the TTL, never after."""

from __future__ import annotations

import asyncio

import pytest

from artifactsvc.ttlcache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Table:
    """A lookup that counts its reads; `rows` may change under the cache."""

    def __init__(self, rows: dict[str, str]) -> None:
        self.rows = rows
        self.reads = 0

    async def find(self, key: str) -> str | None:
        self.reads += 1
        return self.rows.get(key)


def lookup(cache: TtlCache[str, str], table: Table, key: str) -> str | None:
    return asyncio.run(cache.get(key, lambda: table.find(key)))


def test_a_revoked_entry_is_gone_once_the_ttl_has_passed() -> None:
    clock, table = Clock(), Table({"digest": "alice"})
    cache: TtlCache[str, str] = TtlCache(5, clock=clock)

    assert lookup(cache, table, "digest") == "alice"
    del table.rows["digest"]  # revoked
    clock.now += 4.9
    assert lookup(cache, table, "digest") == "alice"  # still within the TTL
    clock.now += 0.2
    assert lookup(cache, table, "digest") is None
    assert table.reads == 2


def test_what_is_not_found_is_not_remembered() -> None:
    clock, table = Clock(), Table({})
    cache: TtlCache[str, str] = TtlCache(5, clock=clock)

    assert lookup(cache, table, "new") is None
    table.rows["new"] = "project"  # imported a moment later
    assert lookup(cache, table, "new") == "project"


@pytest.mark.parametrize("ttl", [0, 0.0])
def test_a_ttl_of_zero_caches_nothing(ttl: float) -> None:
    table = Table({"k": "v"})
    cache: TtlCache[str, str] = TtlCache(ttl)

    for _ in range(3):
        assert lookup(cache, table, "k") == "v"
    assert table.reads == 3


def test_a_full_cache_is_emptied_not_grown() -> None:
    table = Table({str(n): str(n) for n in range(10)})
    cache: TtlCache[str, str] = TtlCache(60, max_entries=4, clock=Clock())

    for n in range(10):
        lookup(cache, table, str(n))

    assert len(cache._entries) <= 4
