"""Per-request state shared by the plugins (the stand-in's `kong.ctx` / PDK surface)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Consumer, Credential, Route


class Headers:
    """An ordered, case-insensitive multi-map of HTTP headers."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = list(items or [])

    def get(self, name: str) -> str | None:
        n = name.lower()
        for k, v in self._items:
            if k.lower() == n:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        n = name.lower()
        return [v for k, v in self._items if k.lower() == n]

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def set(self, name: str, value: Any) -> None:
        self.clear(name)
        self._items.append((name, str(value)))

    def add(self, name: str, value: Any) -> None:
        self._items.append((name, str(value)))

    def clear(self, name: str) -> None:
        n = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != n]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


@dataclass(slots=True)
class RequestContext:
    method: str
    path: str
    query: str
    client_ip: str
    scheme: str
    host: str
    port: int
    headers: dict[str, list[str]]  # lowercase name -> values, as the client sent them
    kong_request_id: str
    raw_path: str = ""  # the path as received (latin-1), before normalization
    peer_ip: str = ""  # the socket's address ($realip_remote_addr); client_ip is after realip
    route: Route | None = None
    # upstream request header edits (kong.service.request.set_header / clear_header)
    upstream_set: dict[str, tuple[str, str]] = field(default_factory=dict)
    upstream_clear: set[str] = field(default_factory=set)
    # response headers set during access (e.g. rate-limiting), applied before header_filter
    access_response_headers: list[tuple[str, str]] = field(default_factory=list)
    consumer: Consumer | None = None
    credential: Credential | None = None
    plugin_ctx: dict[str, dict] = field(default_factory=dict)
    body: bytes | None = None  # buffered request body, when a plugin had to read it
    correlation_id: str | None = None
    upstream_latency_ms: float | None = None
    proxied: bool = False

    def header(self, name: str) -> str | None:
        vals = self.headers.get(name.lower())
        return vals[0] if vals else None

    def set_upstream_header(self, name: str, value: Any) -> None:
        low = name.lower()
        self.upstream_clear.discard(low)
        self.upstream_set[low] = (name, str(value))

    def clear_upstream_header(self, name: str) -> None:
        low = name.lower()
        self.upstream_set.pop(low, None)
        self.upstream_clear.add(low)
