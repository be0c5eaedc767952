"""Plugins the stand-in implements, one module each, run in Kong's priority order."""

from __future__ import annotations

from typing import Any

from ..context import Headers, RequestContext


class Plugin:
    name = ""
    priority = 0
    has_access = True
    access_is_async = False
    has_header_filter = False
    has_log = False

    def __init__(self, conf: dict, route_id: str | None, service_id: str | None, **env: Any):
        self.conf = conf
        self.route_id = route_id
        self.service_id = service_id
        self.env = env

    def access(self, ctx: RequestContext) -> Any:  # may be a coroutine when access_is_async
        return None

    def header_filter(self, ctx: RequestContext, status: int, headers: Headers) -> None:
        return None

    def log(self, ctx: RequestContext, status: int, info: dict) -> None:
        return None

    async def close(self) -> None:
        return None


def registry() -> dict[str, type[Plugin]]:
    from .acl import Acl
    from .correlation_id import CorrelationId
    from .cors import Cors
    from .jwt import Jwt
    from .prometheus import Prometheus
    from .rate_limiting import RateLimiting
    from .request_size_limiting import RequestSizeLimiting
    from .request_transformer import RequestTransformer
    from .response_transformer import ResponseTransformer

    classes = [
        CorrelationId, Cors, Jwt, RequestSizeLimiting, Acl, RateLimiting,
        RequestTransformer, ResponseTransformer, Prometheus,
    ]  # fmt: skip
    return {c.name: c for c in classes}


def create_plugin(p: dict, route_id: str | None, service_id: str | None, **env: Any) -> Plugin:
    cls = registry()[p["name"]]
    inst = cls(p["config"], route_id=route_id, service_id=service_id, **env)
    assert inst.priority == p["_priority"], p["name"]
    return inst
