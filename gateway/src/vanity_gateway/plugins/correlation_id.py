"""correlation-id (priority 100001): kong/plugins/correlation-id/handler.lua."""

from __future__ import annotations

import itertools
import os
import time
import uuid

from ..context import Headers, RequestContext
from . import Plugin


class CorrelationId(Plugin):
    name = "correlation-id"
    priority = 100001
    has_header_filter = True

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        self.header_name = conf["header_name"]
        self._worker_uuid = str(uuid.uuid4())
        self._counter = itertools.count(1)

    def generate(self, ctx: RequestContext) -> str:
        gen = self.conf["generator"]
        if gen == "uuid":
            return str(uuid.uuid4())
        if gen == "uuid#counter":
            return f"{self._worker_uuid}#{next(self._counter)}"
        # tracker: server_addr-server_port-pid-connection-connection_requests-now
        return f"{ctx.host}-{ctx.port}-{os.getpid()}-0-0-{time.time():0.3f}"

    def access(self, ctx: RequestContext) -> None:
        cid = ctx.header(self.header_name)
        if not cid:
            cid = self.generate(ctx)
            ctx.set_upstream_header(self.header_name, cid)
        ctx.correlation_id = cid
        if self.conf["echo_downstream"]:
            ctx.plugin_ctx.setdefault(self.name, {})["correlation_id"] = cid

    def header_filter(self, ctx: RequestContext, status: int, headers: Headers) -> None:
        if not self.conf["echo_downstream"]:
            return
        cid = ctx.plugin_ctx.get(self.name, {}).get("correlation_id") or ctx.header(
            self.header_name
        )
        if not cid:
            cid = self.generate(ctx)
        headers.set(self.header_name, cid)
