"""request-size-limiting (priority 951): kong/plugins/request-size-limiting/handler.lua."""

from __future__ import annotations

from ..context import RequestContext
from ..kong import error
from . import Plugin

FACTOR = {"bytes": 1, "kilobytes": 1024, "megabytes": 1048576}


class RequestSizeLimiting(Plugin):
    name = "request-size-limiting"
    priority = 951
    access_is_async = True

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        self.allowed = conf["allowed_payload_size"] * FACTOR[conf["size_unit"]]

    def _too_large(self, ctx: RequestContext):
        expect = (ctx.header("expect") or "").strip().lower()
        status = 417 if expect == "100-continue" else 413
        return error(
            status, "Request size limit exceeded", ctx.kong_request_id, ctx.header("accept")
        )

    async def access(self, ctx: RequestContext) -> None:
        cl = ctx.header("content-length")
        if cl is not None and cl.strip().isdigit():
            if int(cl) > self.allowed:
                raise self._too_large(ctx)
            return
        if self.conf["require_content_length"] and ctx.header("transfer-encoding") != "chunked":
            raise error(
                411, "A valid Content-Length header is required", ctx.kong_request_id,
                ctx.header("accept"),
            )  # fmt: skip
        # no usable Content-Length: read (and buffer) the body, stopping at the limit
        reader = ctx.plugin_ctx["_body_reader"]
        body = await reader(self.allowed)
        if body is None:
            raise self._too_large(ctx)
        ctx.body = body
