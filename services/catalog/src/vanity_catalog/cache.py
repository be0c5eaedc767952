"""Read cache for the public catalog: Redis when configured, in-process otherwise.

Invalidation is a generation counter. Every key embeds the generation it was read under; an
admin write bumps the counter (one INCR) after its transaction commits (an outbox message
written by that transaction, so it is retried until it happens), so every later read
looks under the new generation and misses. A reader that read the old generation before the
commit may still store its (possibly old) result, but only under the old generation, which
nobody reads any more. Old generations simply expire (TTL).

A hit is one Redis round trip: a small Lua script reads the generation and the entry together.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)

_LOOKUP = """
local g = redis.call('GET', KEYS[1]) or '0'
return {g, redis.call('GET', ARGV[1] .. ':g' .. g .. ':' .. ARGV[2])}
"""


@dataclass(frozen=True)
class Lookup:
    generation: int
    value: bytes | None


class ReadCache:
    """Interface: `lookup` then, on a miss, `store` under the generation the lookup saw."""

    backend = "none"

    async def lookup(self, key: str) -> Lookup:
        return Lookup(0, None)

    async def store(self, generation: int, key: str, value: bytes) -> None:
        return None

    async def invalidate(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class NullCache(ReadCache):
    pass


class LocalCache(ReadCache):
    """One process's LRU with a TTL. Exact for a single process (make run, tests)."""

    backend = "local"

    def __init__(self, ttl: float, max_entries: int = 5000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def lookup(self, key: str) -> Lookup:
        entry = self._entries.get(key)
        if entry is None:
            return Lookup(self.generation, None)
        expires, value = entry
        if expires < time.monotonic():
            self._entries.pop(key, None)
            return Lookup(self.generation, None)
        self._entries.move_to_end(key)
        return Lookup(self.generation, value)

    async def store(self, generation: int, key: str, value: bytes) -> None:
        if generation != self.generation:
            return  # read before an invalidation: never store it
        self._entries[key] = (time.monotonic() + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()


class RedisCache(ReadCache):
    """Shared by every catalog process; keys under `prefix`."""

    backend = "redis"

    def __init__(self, url: str, prefix: str, ttl: int) -> None:
        import redis.asyncio as redis

        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = prefix
        self.ttl = ttl
        self.generation_key = f"{prefix}:generation"
        self._lookup = self.client.register_script(_LOOKUP)

    async def lookup(self, key: str) -> Lookup:
        try:
            generation, value = await self._lookup(
                keys=[self.generation_key], args=[self.prefix, key]
            )
        except Exception as exc:  # a cache outage degrades to the database, never to an error
            log.warning("catalog cache lookup failed: %s", exc)
            return Lookup(-1, None)
        return Lookup(int(generation), value)

    async def store(self, generation: int, key: str, value: bytes) -> None:
        if generation < 0:
            return
        try:
            await self.client.set(f"{self.prefix}:g{generation}:{key}", value, ex=self.ttl)
        except Exception as exc:
            log.warning("catalog cache store failed: %s", exc)

    async def invalidate(self) -> None:
        # Called by catalog's outbox relay: a failure raises, and the relay tries again with
        # backoff (meanwhile lookups against an unreachable Redis miss, and entries expire).
        await self.client.incr(self.generation_key)

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def cache_from_settings(settings) -> ReadCache:
    if not settings.cache_enabled or settings.cache_ttl_seconds <= 0:
        return NullCache()
    if settings.redis_url:
        return RedisCache(settings.redis_url, settings.cache_prefix, settings.cache_ttl_seconds)
    return LocalCache(settings.cache_ttl_seconds, settings.cache_local_max_entries)
