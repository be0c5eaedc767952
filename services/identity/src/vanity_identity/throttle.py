"""Brute-force protection behind the gateway's rate limit: moving-window counters of failed
attempts per account and per client IP (the `limits` library; Redis when REDIS_URL is set so
every replica shares them, process memory otherwise).

Client IP rule: the socket peer, unless the peer is a trusted proxy (TRUSTED_PROXIES: IPs or
CIDRs); then X-Forwarded-For is read from the right, skipping trusted proxies, and the first
address that is not one is the client. With one proxy (Kong) that is the entry Kong appended.
Entries left of it were written by the client and are never believed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> list[Network]:
    return [ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()]


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def client_ip(request: Request, trusted: list[Network]) -> str:
    peer = request.client.host if request.client else ""
    peer_ip = _ip(peer)
    if peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer or "unknown"
    hops = [h for value in request.headers.getlist("x-forwarded-for") for h in value.split(",")]
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            # Garbage where an address should be: stop believing the header here.
            break
        if not any(hop_ip in net for net in trusted):
            return str(hop_ip)
    return peer


def storage_uri(redis_url: str | None) -> str:
    if not redis_url:
        return "async+memory://"
    return f"async+{redis_url}" if not redis_url.startswith("async+") else redis_url


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


class Throttle:
    """Named groups of limits; `check` before the attempt, `fail` after a failed one."""

    def __init__(self, redis_url: str | None, groups: dict[str, str], prefix: str = "identity"):
        options = {"implementation": "redispy"} if redis_url else {}
        self.storage = storage_from_string(storage_uri(redis_url), **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.groups: dict[str, list[RateLimitItem]] = {
            name: parse_many(spec) if spec.strip() else [] for name, spec in groups.items()
        }
        self.prefix = prefix

    @staticmethod
    def subject(value: str) -> str:
        # Hashed: no e-mail addresses in Redis keys.
        return hashlib.sha256(value.encode()).hexdigest()[:32]

    async def check(self, *pairs: tuple[str, str]) -> Verdict:
        """Every (group, subject) must still have room for one more attempt."""
        retry_after = 0
        for group, subject in pairs:
            for item in self.groups[group]:
                if not await self.limiter.test(item, self.prefix, group, subject):
                    stats = await self.limiter.get_window_stats(item, self.prefix, group, subject)
                    retry_after = max(retry_after, math.ceil(stats.reset_time - time.time()), 1)
        return Verdict(allowed=retry_after == 0, retry_after=retry_after)

    async def fail(self, *pairs: tuple[str, str]) -> None:
        for group, subject in pairs:
            for item in self.groups[group]:
                await self.limiter.hit(item, self.prefix, group, subject)

    async def hit(self, *pairs: tuple[str, str]) -> Verdict:
        """Counts an attempt and answers whether it was within the limits (check + fail)."""
        verdict = await self.check(*pairs)
        if verdict.allowed:
            await self.fail(*pairs)
        return verdict

    async def clear(self, group: str, subject: str) -> None:
        for item in self.groups[group]:
            await self.limiter.clear(item, self.prefix, group, subject)

    async def ping(self) -> None:
        if not await self.storage.check():
            raise ConnectionError("rate-limit storage unreachable")
