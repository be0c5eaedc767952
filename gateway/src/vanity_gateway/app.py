"""The ASGI application: route, run plugins in Kong's order, proxy, decorate the response."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from . import kong
from .config import ConfigError, GatewayConfig, load
from .context import Headers, RequestContext
from .kong import KongExit
from .proxy import HOP_BY_HOP, UPSTREAM_HIDDEN, UpstreamError, make_session, send
from .realip import RealIp
from .router import Router
from .uri import escape, has_control_characters, route_path

log = logging.getLogger("vanity_gateway")

SMALL_BODY = 1 << 20  # request bodies up to 1 MiB are read whole; bigger ones are streamed
SMALL_RESPONSE = 256 << 10


class ClientDisconnected(Exception):
    """The client went away (or was cut off by a read timeout) before its body was read."""


class GatewayApp:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        config_path: str | None = None,
        upstreams_path: str | None = None,
        status_port: int | None = None,
        watch_interval: float | None = None,
        plugin_env: dict[str, Any] | None = None,
        realip: RealIp | None = None,
    ) -> None:
        self.config = config
        self.realip = realip or RealIp()
        self.router = Router(config.routes)
        self.config_path = config_path
        self.upstreams_path = upstreams_path
        self.status_port = status_port
        self.watch_interval = watch_interval
        self.plugin_env = plugin_env or {}
        self.session: aiohttp.ClientSession | None = None
        self._watch_task: asyncio.Task | None = None
        self._mtime = self._stat()
        self.reloads = 0

    # -- lifecycle ---------------------------------------------------------------------------
    async def startup(self) -> None:
        self.session = make_session()
        if self.watch_interval and self.config_path:
            self._watch_task = asyncio.create_task(self._watch())

    async def shutdown(self) -> None:
        if self._watch_task:
            self._watch_task.cancel()
        for p in self.config.all_plugins:
            await p.close()
        if self.session:
            await self.session.close()

    def _stat(self) -> tuple:
        out = []
        for p in (self.config_path, self.upstreams_path):
            try:
                st = os.stat(p) if p else None
                out.append((st.st_mtime_ns, st.st_size) if st else None)
            except OSError:
                out.append(None)
        return tuple(out)

    def reload(self) -> bool:
        """Re-read the config files; keep serving the old config if the new one is invalid."""
        try:
            new = load(self.config_path, self.upstreams_path, **self.plugin_env)
        except (ConfigError, OSError, ValueError) as exc:
            log.error("config reload refused, keeping the running config: %s", exc)
            return False
        old = self.config
        self.config, self.router = new, Router(new.routes)
        self.reloads += 1
        log.info("config reloaded from %s", self.config_path)

        async def close_old() -> None:
            await asyncio.sleep(5)
            for p in old.all_plugins:
                await p.close()

        asyncio.get_running_loop().create_task(close_old())
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval or 1.0)
            st = self._stat()
            if st != self._mtime:
                self._mtime = st
                self.reload()

    # -- ASGI --------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send_) -> None:
        typ = scope["type"]
        if typ == "http":
            if self.status_port is not None and scope["server"][1] == self.status_port:
                await self._status(scope, send_)
            else:
                await self.handle(scope, receive, send_)
        elif typ == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await self.startup()
                    await send_({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await self.shutdown()
                    await send_({"type": "lifespan.shutdown.complete"})
                    return

    async def _status(self, scope, send_) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        from .plugins.prometheus import REGISTRY

        path = scope["path"]
        if path == "/metrics":
            status, ctype, body = 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        elif path in ("/status", "/status/ready"):
            status, ctype = 200, kong.JSON
            body = orjson.dumps({"message": "ready", "config": self.config.source})
        else:
            status, ctype, body = 404, kong.JSON, b'{"message":"Not found"}'
        await send_(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype.encode()),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send_({"type": "http.response.body", "body": body})

    def render_protocol_error(
        self, status: int, message: str | None, raw_headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Kong's answer to a request nginx refuses before Kong runs (server.py): the error
        handler's body (494 becomes `400 Request header or cookie too large`), decorated by the
        global plugins' header filters like any other Kong answer."""
        headers: dict[str, list[str]] = {}
        for k, v in raw_headers:
            headers.setdefault(k.decode("latin-1"), []).append(v.decode("latin-1"))
        if status == 494:
            status, message = 400, message or "Request header or cookie too large"
        if status == 414:
            message = message or "URI too long"
        ctx = RequestContext(
            method="GET", path="/", query="", client_ip="", scheme="http", host="", port=0,
            headers=headers, kong_request_id=os.urandom(16).hex(),
        )  # fmt: skip
        exit_ = kong.error(status, message, ctx.kong_request_id, self._accept(ctx))
        out = Headers(exit_.headers)
        for p in self.config.global_plugins_by_priority:
            if p.has_header_filter:
                p.header_filter(ctx, status, out)
        out.set("Server", kong.SERVER_TOKEN)
        out.set("X-Kong-Request-Id", ctx.kong_request_id)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in out.items()]
        return status, raw, exit_.body

    async def handle(self, scope, receive, send_) -> None:
        started = time.perf_counter()
        headers: dict[str, list[str]] = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.decode("latin-1"), []).append(v.decode("latin-1"))
        server = scope.get("server") or ("127.0.0.1", 8000)
        peer = (scope.get("client") or ("127.0.0.1", 0))[0]
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else scope["path"]
        ctx = RequestContext(
            method=scope["method"],
            # Kong routes (and proxies) the normalized path, never the raw one: no dot-segment
            # or encoded-dot trick can pick another route than the one the upstream will serve
            path=route_path(raw_path),
            raw_path=raw_path,
            query=scope["query_string"].decode("latin-1"),
            client_ip=self.realip.client_ip(peer, headers),
            peer_ip=peer,
            scheme=scope.get("scheme", "http"),
            host=(headers.get("host") or [server[0]])[0],
            port=server[1] or 0,
            headers=headers,
            kong_request_id=os.urandom(16).hex(),
        )
        body_state = {"consumed": False}

        async def read_body(limit: int | None = None) -> bytes | None:
            chunks, size = [], 0
            more = True
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise ClientDisconnected
                chunk = msg.get("body", b"")
                size += len(chunk)
                if limit is not None and size > limit:
                    body_state["consumed"] = True
                    return None
                chunks.append(chunk)
                more = msg.get("more_body", False)
            body_state["consumed"] = True
            return b"".join(chunks)

        ctx.plugin_ctx["_body_reader"] = read_body
        ctx.plugin_ctx["_receive"] = receive
        # nginx refuses an encoded NUL in the path (400); the stand-in refuses every control
        # character the same way, so none can reach a header or an upstream request line
        bad_path = has_control_characters(ctx.path)
        route = None if bad_path else self.router.match(ctx.method, ctx.path)
        ctx.route = route
        # without a route only the global plugins ran (Kong's rewrite phase): their header
        # filters still decorate Kong's own answer (request id, CORS, security headers)
        plugins = route.plugins if route else self.config.global_plugins_by_priority
        exit_: KongExit | None = None
        if bad_path:
            exit_ = kong.error(400, None, ctx.kong_request_id, ctx.header("accept"))
        elif route is None:
            exit_ = kong.error(404, "no Route matched with those values", ctx.kong_request_id,
                               ctx.header("accept"))  # fmt: skip
        else:
            try:
                for p in plugins:
                    if p.has_access:
                        if p.access_is_async:
                            await p.access(ctx)
                        else:
                            p.access(ctx)
            except KongExit as e:
                exit_ = e
            except ClientDisconnected:
                return
            except Exception:  # a plugin bug: Kong answers 500 and logs
                log.exception("plugin error")
                exit_ = kong.exit_json(500, {"message": "An unexpected error occurred"})

        kong_error = False
        resp: aiohttp.ClientResponse | None = None
        if exit_ is None:
            access_done = time.perf_counter()
            try:
                body = await self._request_body(ctx, read_body, body_state)
                resp = await send(
                    self.session, route.service, ctx.method, self._upstream_uri(ctx, scope),
                    self._upstream_headers(ctx, route), body,
                )  # fmt: skip
                ctx.proxied = True
            except ClientDisconnected:
                return
            except UpstreamError as e:
                if body_state.get("gone"):
                    return  # the client left mid-body (nginx: 499, nothing to answer)
                exit_ = kong.proxy_error(
                    e.status, ctx.kong_request_id, self._accept(ctx), e.message
                )
                kong_error = True
            ctx.upstream_latency_ms = (time.perf_counter() - access_done) * 1000

        if exit_ is not None:
            status = exit_.status
            out = Headers(exit_.headers)
            out.set("Content-Length", len(exit_.body))
        else:
            status = resp.status
            out = Headers(
                [
                    (k, v)
                    for k, v in resp.headers.items()
                    if k.lower() not in HOP_BY_HOP and k.lower() not in UPSTREAM_HIDDEN
                ]
            )
        for k, v in ctx.access_response_headers:
            out.set(k, v)
        for p in plugins:
            if p.has_header_filter:
                p.header_filter(ctx, status, out)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        if exit_ is not None and not kong_error:
            out.set("Server", kong.SERVER_TOKEN)
            out.set("X-Kong-Response-Latency", elapsed_ms)
        else:
            if resp is not None:
                via = resp.headers.get("Via")
                out.set(
                    "Via", f"{via}, 1.1 {kong.SERVER_TOKEN}" if via else f"1.1 {kong.SERVER_TOKEN}"
                )
                if "server" not in resp.headers:
                    out.set("Server", kong.SERVER_TOKEN)
            else:
                out.set("Server", kong.SERVER_TOKEN)
            up = int(ctx.upstream_latency_ms or 0)
            out.set("X-Kong-Upstream-Latency", up)
            out.set("X-Kong-Proxy-Latency", max(0, elapsed_ms - up))
        out.set("X-Kong-Request-Id", ctx.kong_request_id)
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in out.items()]

        bytes_out = 0
        await send_({"type": "http.response.start", "status": status, "headers": raw_headers})
        if exit_ is not None:
            await send_({"type": "http.response.body", "body": exit_.body})
            bytes_out = len(exit_.body)
        else:
            try:
                bytes_out = await self._stream_body(resp, ctx, send_)
            finally:
                resp.release()
        total_ms = (time.perf_counter() - started) * 1000
        info = {"total_ms": total_ms, "bytes_out": bytes_out, "kong_error": kong_error,
                "bytes_in": int(ctx.header("content-length") or 0)}  # fmt: skip
        for p in plugins:
            if p.has_log:
                try:
                    p.log(ctx, status, info)
                except Exception:
                    log.exception("log phase error")

    @staticmethod
    def _accept(ctx: RequestContext) -> str | None:
        # error_handlers.lua: Accept, else the request's Content-Type, else the default (json)
        return ctx.header("accept") or ctx.header("content-type")

    @staticmethod
    def _upstream_uri(ctx: RequestContext, scope) -> str:
        """kong/runloop/handler.lua: `escape(normalized path)`, then the query as received."""
        qs = scope["query_string"]
        path = escape(ctx.path)
        return f"{path}?{qs.decode('latin-1')}" if qs else path

    async def _request_body(self, ctx: RequestContext, read_body, state):
        if ctx.body is not None:
            return ctx.body
        if state["consumed"]:
            return b""
        cl = ctx.header("content-length")
        te = ctx.header("transfer-encoding")
        if cl is None and te is None:
            return None
        if cl is not None and cl.isdigit() and int(cl) <= SMALL_BODY:
            return await read_body()
        return self._stream_request(ctx, state)

    @staticmethod
    async def _stream_request(ctx: RequestContext, state):
        """Forward a large or chunked request body chunk by chunk, without buffering it."""
        receive = ctx.plugin_ctx["_receive"]
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                state["gone"] = True  # abort the upstream request: never send half a body
                raise ClientDisconnected
            chunk = msg.get("body", b"")
            if chunk:
                yield chunk
            if not msg.get("more_body", False):
                return

    def _upstream_headers(self, ctx: RequestContext, route) -> list[tuple[str, str]]:
        drop = HOP_BY_HOP | ctx.upstream_clear | ctx.upstream_set.keys()
        out = []
        host = None
        for name, values in ctx.headers.items():
            if name == "host":
                host = values[0]
                continue
            if name in drop or name.startswith(("x-forwarded-", "x-real-ip")):
                continue
            for v in values:
                out.append((name, v))
        out.extend(ctx.upstream_set.values())
        svc = route.service
        out.append(("Host", host if route.preserve_host and host else f"{svc.host}:{svc.port}"))
        # kong/runloop/handler.lua: the client's X-Forwarded-* are believed from trusted_ips only
        trusted = self.realip.is_trusted(ctx.peer_ip)
        fwd = (lambda name: ctx.header(name)) if trusted else (lambda name: None)
        xff = ctx.header("x-forwarded-for")
        out.append(("X-Forwarded-For", f"{xff}, {ctx.peer_ip}" if xff else ctx.client_ip))
        out.append(("X-Forwarded-Proto", fwd("x-forwarded-proto") or ctx.scheme))
        out.append(
            ("X-Forwarded-Host", fwd("x-forwarded-host") or (host or ctx.host).split(":")[0])
        )
        out.append(("X-Forwarded-Port", fwd("x-forwarded-port") or str(ctx.port)))
        # the request path as received (escaped: a header never carries a raw control byte)
        out.append(("X-Forwarded-Path", fwd("x-forwarded-path") or escape(ctx.raw_path)))
        out.append(("X-Real-IP", ctx.client_ip))
        out.append(("X-Kong-Request-Id", ctx.kong_request_id))
        return out

    @staticmethod
    async def _stream_body(resp: aiohttp.ClientResponse, ctx: RequestContext, send_) -> int:
        if ctx.method == "HEAD" or resp.status in (204, 304):
            await send_({"type": "http.response.body", "body": b""})
            return 0
        cl = resp.content_length
        try:
            if cl is not None and cl <= SMALL_RESPONSE:
                data = await resp.read()
                await send_({"type": "http.response.body", "body": data})
                return len(data)
            total = 0
            async for chunk in resp.content.iter_any():
                total += len(chunk)
                await send_({"type": "http.response.body", "body": chunk, "more_body": True})
            await send_({"type": "http.response.body", "body": b""})
            return total
        except (TimeoutError, aiohttp.ClientError):
            # upstream broke mid-body: the status is already sent, so cut the connection short
            log.warning("upstream body interrupted for %s %s", ctx.method, ctx.path)
            raise


def create_app(
    config_path: str | Path,
    upstreams_path: str | Path | None = None,
    *,
    status_port: int | None = None,
    watch_interval: float | None = 1.0,
    realip: RealIp | None = None,
    **plugin_env: Any,
) -> GatewayApp:
    cfg = load(config_path, upstreams_path, **plugin_env)
    return GatewayApp(
        cfg,
        config_path=str(config_path),
        upstreams_path=str(upstreams_path) if upstreams_path else None,
        status_port=status_port,
        watch_interval=watch_interval,
        plugin_env=plugin_env,
        realip=realip,
    )
