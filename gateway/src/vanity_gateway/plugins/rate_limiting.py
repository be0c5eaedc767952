"""rate-limiting (priority 910): kong/plugins/rate-limiting/handler.lua + policies/init.lua.

Windows are calendar-aligned in UTC like kong.tools.timestamp.get_timestamps. Policies:
- `local`: in-process counters (one stand-in process = one Kong node).
- `redis`: Kong's realtime (`sync_rate: -1`) algorithm — INCR per period and compare the
  previous value — with Kong's key layout, so several stand-ins (or Kong nodes) share counters.
"""

from __future__ import annotations

import calendar
import logging
import time
from datetime import UTC, datetime

from ..config import EMPTY_UUID
from ..context import RequestContext
from ..kong import error
from . import Plugin

log = logging.getLogger("vanity_gateway.rate_limiting")

PERIODS = ["second", "minute", "hour", "day", "month", "year"]
EXPIRATION = {
    "second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 2592000, "year": 31536000,
}  # fmt: skip
X_LIMIT = {p: f"X-RateLimit-Limit-{p.capitalize()}" for p in PERIODS}
X_REMAINING = {p: f"X-RateLimit-Remaining-{p.capitalize()}" for p in PERIODS}

# one EVAL per request for all periods (Kong does one per period; same semantics)
_INCR_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('incr', key)
  if v == 1 then redis.call('expire', key, ARGV[i]) end
  out[i] = v - 1
end
return out
"""


def get_timestamps(now: float) -> dict[str, int]:
    """Start of each calendar period containing `now`, in milliseconds (UTC)."""
    sec = int(now)
    t = datetime.fromtimestamp(sec, UTC)
    return {
        "second": sec * 1000,
        "minute": (sec - t.second) * 1000,
        "hour": (sec - t.second - 60 * t.minute) * 1000,
        "day": (sec - t.second - 60 * t.minute - 3600 * t.hour) * 1000,
        "month": calendar.timegm((t.year, t.month, 1, 0, 0, 0)) * 1000,
        "year": calendar.timegm((t.year, 1, 1, 0, 0, 0)) * 1000,
    }


class LocalPolicy:
    def __init__(self) -> None:
        self.counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires_at)

    async def usage(self, keys: dict[str, str], now: float) -> dict[str, int]:
        out = {}
        for period, key in keys.items():
            entry = self.counters.get(key)
            out[period] = entry[0] if entry and entry[1] > now else 0
        return out

    async def increment(self, keys: dict[str, str], now: float) -> None:
        if len(self.counters) > 100_000:
            self.counters = {k: v for k, v in self.counters.items() if v[1] > now}
        for period, key in keys.items():
            entry = self.counters.get(key)
            if entry and entry[1] > now:
                self.counters[key] = (entry[0] + 1, entry[1])
            else:
                self.counters[key] = (1, now + EXPIRATION[period])


class RedisPolicy:
    def __init__(self, conf: dict) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.Redis(
            host=conf["host"],
            port=conf["port"],
            db=conf["database"],
            username=conf.get("username"),
            password=conf.get("password") or None,
            socket_timeout=conf["timeout"] / 1000,
            socket_connect_timeout=conf["timeout"] / 1000,
        )
        self.script = self.client.register_script(_INCR_SCRIPT)

    async def usage(self, keys: dict[str, str], now: float) -> dict[str, int]:
        periods = list(keys)
        values = await self.script(
            keys=[keys[p] for p in periods], args=[EXPIRATION[p] for p in periods]
        )
        return {p: int(v) for p, v in zip(periods, values, strict=True)}

    async def increment(self, keys: dict[str, str], now: float) -> None:
        return None  # realtime: already incremented by usage()

    async def close(self) -> None:
        await self.client.aclose()


class RateLimiting(Plugin):
    name = "rate-limiting"
    priority = 910
    access_is_async = True

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        self.limits = {p: conf[p] for p in PERIODS if conf.get(p) is not None}
        self.clock = env.get("clock", time.time)
        self.policy = RedisPolicy(conf["redis"]) if conf["policy"] == "redis" else LocalPolicy()
        self.key_prefix = f"ratelimit:{route_id or EMPTY_UUID}:{service_id or EMPTY_UUID}:"

    def identifier(self, ctx: RequestContext) -> str:
        by = self.conf["limit_by"]
        ident = None
        if by == "service":
            ident = ctx.route.service.id if ctx.route else None
        elif by == "consumer":
            ident = (ctx.consumer.id if ctx.consumer else None) or (
                ctx.credential.id if ctx.credential else None
            )
        elif by == "credential":
            ident = ctx.credential.id if ctx.credential else None
        elif by == "header":
            ident = ctx.header(self.conf["header_name"])
        elif by == "path":
            ident = ctx.path if ctx.path == self.conf["path"] else None
        return ident or ctx.client_ip

    async def access(self, ctx: RequestContext) -> None:
        now = self.clock()
        ident = self.identifier(ctx)
        stamps = get_timestamps(now)
        keys = {p: f"{self.key_prefix}{ident}:{stamps[p]}:{p}" for p in self.limits}
        try:
            usage_counts = await self.policy.usage(keys, now)
        except Exception as exc:
            if not self.conf["fault_tolerant"]:
                raise error(500, None, ctx.kong_request_id, ctx.header("accept")) from exc
            log.error("failed to get usage: %s", exc)
            return
        stop = None
        usage = {}
        for period, limit in self.limits.items():
            remaining = limit - usage_counts[period]
            usage[period] = (limit, remaining)
            if remaining <= 0:
                stop = period
        headers = ctx.access_response_headers
        reset = None
        if not self.conf["hide_client_headers"]:
            best = None  # (remaining, window, limit)
            for period, (limit, remaining) in usage.items():
                if stop is None or stop == period:
                    remaining -= 1
                remaining = max(0, remaining)
                window = EXPIRATION[period]
                if (
                    best is None
                    or remaining < best[0]
                    or (remaining == best[0] and window > best[1])
                ):
                    best = (remaining, window, limit)
                    reset = max(1, window - int((now * 1000 - stamps[period]) // 1000))
                headers.append((X_LIMIT[period], _num(limit)))
                headers.append((X_REMAINING[period], _num(remaining)))
            assert best is not None
            headers.append(("RateLimit-Limit", _num(best[2])))
            headers.append(("RateLimit-Remaining", _num(best[0])))
            headers.append(("RateLimit-Reset", str(reset)))
        if stop is not None:
            if not self.conf["hide_client_headers"]:
                headers.append(("Retry-After", str(reset)))
            raise error(
                int(self.conf["error_code"]), self.conf["error_message"], ctx.kong_request_id,
                ctx.header("accept"),
            )  # fmt: skip
        await self.policy.increment(keys, now)

    async def close(self) -> None:
        if isinstance(self.policy, RedisPolicy):
            await self.policy.close()


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)
