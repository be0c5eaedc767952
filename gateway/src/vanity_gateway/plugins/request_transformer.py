"""request-transformer (priority 801): only `remove.headers` is implemented (schema refuses the rest)."""

from __future__ import annotations

from ..context import RequestContext
from . import Plugin


class RequestTransformer(Plugin):
    name = "request-transformer"
    priority = 801

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        self.remove = [h.lower() for h in conf["remove"]["headers"] if h.lower() != "host"]

    def access(self, ctx: RequestContext) -> None:
        for name in self.remove:
            if name in ctx.headers or name in ctx.upstream_set:
                ctx.clear_upstream_header(name)
