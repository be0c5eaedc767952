"""The service process: FastAPI (public REST) and grpc.aio (internal) on one event loop.

`build_service_app` wires the chassis around a service's routers and servicers: request ids,
access logs, metrics, traces, problem+json errors, token verification, /healthz, /readyz,
/metrics and the gRPC server with health and reflection. The lifespan builds the service's
container (`vanity_<name>/bootstrap.py`: database, gRPC channels, ports, use cases) and closes
it on shutdown; routers reach it through `container` / `service_container`, servicers get it
from `register(server, container)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import orjson
from fastapi import APIRouter, FastAPI
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vanity_common.auth import ended_sessions_feed, verifier_from_settings
from vanity_common.bootstrap import ServiceContainer
from vanity_common.context import REQUEST_ID_HEADER, new_request_id, request_id_var
from vanity_common.errors import install_problem_handlers
from vanity_common.grpc_server import GrpcServer, grpc_allowed_callers
from vanity_common.logging import configure_logging
from vanity_common.metrics import (
    HTTP_DURATION,
    HTTP_REQUESTS,
    register_pool_collector,
    render_latest,
)
from vanity_common.settings import ServiceSettings
from vanity_common.tls import grpc_tls_from_settings
from vanity_common.tracing import configure_tracing

log = logging.getLogger("vanity.access")

ReadinessCheck = Callable[[], Awaitable[None]]
_UNMEASURED = {"/metrics", "/healthz", "/readyz"}


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): request id, metrics, one access log line.

    It runs inside FastAPI's native OpenTelemetry server span, so its log lines carry the
    trace id.
    """

    def __init__(self, app: ASGIApp, service: str, access_log: bool = True) -> None:
        self.app = app
        self.service = service
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                request_id = value.decode("latin-1")[:200]
                break
        request_id = request_id or new_request_id()
        token = request_id_var.set(request_id)
        # Starlette's outermost error handler answers a crash after this middleware has ended:
        # the id travels in the scope so that answer and its log line still carry it.
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER.encode(), request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["path"] not in _UNMEASURED:
                elapsed = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
                HTTP_DURATION.labels(self.service, scope["method"], route).observe(elapsed)
                if self.access_log:
                    log.info(
                        "%s %s %s %.1fms",
                        scope["method"],
                        scope["path"],
                        status,
                        elapsed * 1000,
                        extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
                    )
            request_id_var.reset(token)


def _untraced(scope) -> bool:
    return scope.get("path") in _UNMEASURED


# FastAPI's native OpenTelemetry support: W3C context extraction and one server span per request
# (maintained with FastAPI; with wrk on a trivial route here 4.6k req/s against 3.7k with
# opentelemetry-instrumentation-asgi, access log off).
# Metrics stay with Prometheus and logs with our JSON logger; per-dependency spans are off on the
# hot path (enable with OTEL_OPERATION_SPANS=true when debugging).
def _telemetry_config(operation_spans: bool) -> dict:
    return {
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": operation_spans,
        "exclude": _untraced,
    }


@dataclass
class ServiceParts:
    """What a service plugs into the chassis."""

    routers: Sequence[APIRouter] = ()
    # Builds the service's container (its bootstrap.build_container) when the app starts; it
    # is closed when the app stops. Without one the app gets a bare ServiceContainer.
    container: Callable[[], ServiceContainer] | None = None
    # `register(server, container)`: adds the servicers to the gRPC server, returns the full
    # service names it added. Readiness checks and resources to close live on the container
    # (`readiness_checks()`, `on_close()`).
    register_grpc: Callable[[grpc.aio.Server, Any], Iterable[str]] | None = None
    title: str | None = None
    version: str = "1.0.0"


def service_container(connection: HTTPConnection) -> ServiceContainer:
    """The running service's container: the one place that knows where it lives. For code that
    runs outside FastAPI's dependency injection (a route class answering before validation)."""
    return connection.app.state.container


async def container(request: Request) -> ServiceContainer:
    """FastAPI dependency: the service's container. Each service narrows it with an Annotated
    type in its rest.py, e.g. `Container = Annotated[InventoryContainer, Depends(container)]`.
    (Async on purpose: a sync dependency would run in a thread pool.)"""
    return request.app.state.container


def json_response(payload, status_code: int = 200, headers: dict[str, str] | None = None):
    """Pre-serialised JSON (orjson): FastAPI's encoder costs ~8x more on hot paths."""
    return Response(
        orjson.dumps(payload),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def build_service_app(settings: ServiceSettings, parts: ServiceParts) -> FastAPI:
    settings.check_production()
    name = settings.service_name
    configure_logging(name, settings.log_level, settings.log_json)
    configure_tracing(name, settings.otel_exporter_otlp_endpoint, settings.otel_sample_ratio)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if parts.container is not None:
            services = parts.container()
        else:
            services = ServiceContainer(**ServiceContainer.core(settings))
        app.state.container = services
        grpc_server = None
        feed_task = None
        relays = []
        try:
            # Tests build several apps in one process: one collector per engine.
            with contextlib.suppress(ValueError):
                register_pool_collector(name, services.db.engine)
            relays = services.outbox_relays()
            for relay in relays:
                relay.start()
            if settings.grpc_enabled and parts.register_grpc is not None:
                grpc_server = GrpcServer(
                    name,
                    f"{settings.grpc_host}:{settings.grpc_port}",
                    lambda server: parts.register_grpc(server, services),
                    tls=grpc_tls_from_settings(settings),
                    allowed_callers=grpc_allowed_callers(settings),
                    health_address=(
                        f"{settings.grpc_host}:{settings.grpc_health_port}"
                        if settings.grpc_health_port is not None
                        else None
                    ),
                )
                await grpc_server.start()
                app.state.grpc_port = grpc_server.port
                log.info("%s gRPC listening on %s:%s", name, settings.grpc_host, grpc_server.port)
            app.state.grpc_server = grpc_server
            # Sessions identity ended (logout, disabled account): polled in the background so
            # the verifier refuses their tokens within seconds, with no call per request.
            feed = ended_sessions_feed(app.state.token_verifier, settings)
            app.state.ended_sessions_feed = feed
            if feed is not None:
                feed_task = asyncio.create_task(feed.run(), name="ended-sessions-feed")
            yield
        finally:
            if feed_task is not None:
                feed_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed_task
                await app.state.ended_sessions_feed.aclose()
            if grpc_server is not None:
                await grpc_server.stop(grace=3.0)
            try:
                for relay in relays:
                    await relay.stop()
            finally:
                await services.aclose()

    app = FastAPI(
        title=parts.title or f"Vanity {name}",
        version=parts.version,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        # A trailing-slash redirect would send clients to this service's own address (behind
        # the gateway, an internal one): `/products/` is a 404 instead.
        redirect_slashes=False,
        telemetry=_telemetry_config(settings.otel_operation_spans),
    )
    app.state.settings = settings
    app.state.token_verifier = verifier_from_settings(settings)
    install_problem_handlers(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return json_response({"status": "ok", "service": name})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        checks = service_container(request).readiness_checks()
        results: dict[str, str] = {}

        async def run(key: str, check: Callable[[], Awaitable[None]]) -> None:
            try:
                await asyncio.wait_for(check(), 2.5)
                results[key] = "ok"
            except Exception as exc:  # readiness reports any failure, whatever its type
                results[key] = f"failed: {type(exc).__name__}"

        await asyncio.gather(*(run(k, c) for k, c in checks.items()))
        ready = all(v == "ok" for v in results.values())
        return json_response(
            {"status": "ready" if ready else "not ready", "service": name, "checks": results},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    for router in parts.routers:
        app.include_router(router)

    app.add_middleware(RequestContextMiddleware, service=name, access_log=settings.access_log)
    return app


def service_app_factory(
    load_settings: Callable[[], ServiceSettings],
    build_container: Callable[..., ServiceContainer],
    *,
    routers: Sequence[APIRouter],
    register_grpc: Callable[[grpc.aio.Server, Any], Iterable[str]],
) -> Callable[..., FastAPI]:
    """A service's `create_app(settings=None, **overrides)` (its app.py): the settings default to
    `load_settings()`, and `overrides` (tests: a clock, fake ports) go to `build_container`."""

    def create_app(settings: ServiceSettings | None = None, **overrides: Any) -> FastAPI:
        resolved = settings or load_settings()
        return build_service_app(
            resolved,
            ServiceParts(
                routers=routers,
                container=lambda: build_container(resolved, **overrides),
                register_grpc=register_grpc,
            ),
        )

    return create_app


def trusted_proxy_list(settings: ServiceSettings) -> list[str]:
    """TRUSTED_PROXIES as a list of IPs/CIDRs (empty: no peer's forwarding headers are
    believed)."""
    return [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]


def uvicorn_config(app: ASGIApp, settings: ServiceSettings):
    """The HTTP server of a service. X-Forwarded-For/-Proto are believed only from
    TRUSTED_PROXIES (uvicorn's default trusts 127.0.0.1, so any local client could pick its own
    address and escape per-IP limits)."""
    import uvicorn

    trusted = trusted_proxy_list(settings)
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
    )


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    import uvicorn

    uvicorn.Server(uvicorn_config(app, settings)).run()
