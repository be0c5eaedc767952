"""gRPC server bootstrap: health, reflection, and interceptors for tracing (OpenTelemetry),
request ids, logs, metrics and the translation of `ServiceError` into status codes.

With mutual TLS (vanity_common.tls) the server accepts only callers presenting a certificate
from the CA; the caller's service name (its certificate's common name) is logged, checked against
the optional allow list and available to servicers as `current_caller()`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from vanity_common.context import REQUEST_ID_METADATA, new_request_id, request_id_var
from vanity_common.errors import REASON_METADATA_KEY, ServiceError
from vanity_common.metrics import GRPC_SERVER_DURATION, GRPC_SERVER_HANDLED
from vanity_common.tls import GrpcTls

log = logging.getLogger(__name__)

HEALTH_METHOD_PREFIX = f"/{health.SERVICE_NAME}/"

# The calling service as its client certificate names it; None over plaintext.
caller_var: ContextVar[str | None] = ContextVar("grpc_caller", default=None)


def current_caller() -> str | None:
    """The service calling the gRPC method being served (mutual TLS), else None."""
    return caller_var.get()


def grpc_allowed_callers(settings) -> list[str]:
    """GRPC_ALLOWED_CALLERS as a list of service names (empty: any caller with a certificate)."""
    return [name.strip() for name in settings.grpc_allowed_callers.split(",") if name.strip()]


def peer_identity(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the peer's verified certificate (None without TLS)."""
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode() if names else None


class ChassisServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str, allowed_callers: Iterable[str] = ()) -> None:
        self.service = service
        # Empty: every caller the TLS handshake let in (a certificate from the CA).
        self.allowed_callers = frozenset(allowed_callers)

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary
        service = self.service
        allowed = self.allowed_callers
        # Health answers any authenticated peer (probes, operators' tools), whoever is allowed.
        guarded = bool(allowed) and not handler_call_details.method.startswith(HEALTH_METHOD_PREFIX)

        async def unary(request, context: grpc.aio.ServicerContext):
            metadata = dict(context.invocation_metadata() or ())
            token = request_id_var.set(metadata.get(REQUEST_ID_METADATA) or new_request_id())
            caller = peer_identity(context)
            caller_token = caller_var.set(caller)
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if guarded and caller not in allowed:
                    code = grpc.StatusCode.PERMISSION_DENIED
                    log.warning("grpc %s refused: caller %s is not allowed", method, caller)
                    await context.abort(code, f"{caller or 'an anonymous caller'} may not call")
                return await inner(request, context)
            except ServiceError as exc:
                code = exc.grpc_code
                context.set_trailing_metadata(((REASON_METADATA_KEY, exc.reason),))
                await context.abort(exc.grpc_code, exc.message)
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in gRPC %s", method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            finally:
                elapsed = time.perf_counter() - started
                GRPC_SERVER_HANDLED.labels(service, method, code.name).inc()
                GRPC_SERVER_DURATION.labels(service, method).observe(elapsed)
                if code is not grpc.StatusCode.OK:
                    log.info(
                        "grpc %s from %s -> %s (%.1f ms)",
                        method,
                        caller or "-",
                        code.name,
                        elapsed * 1000,
                    )
                else:
                    log.debug("grpc %s from %s -> OK", method, caller or "-")
                caller_var.reset(caller_token)
                request_id_var.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class GrpcServer:
    """A grpc.aio server on the caller's event loop, with health and reflection.

    `tls`: mutual TLS on `address` (every caller shows a certificate from the CA); None:
    plaintext. `health_address`: also serve only grpc.health.v1, in plaintext, there (for
    Kubernetes' native gRPC probes, which cannot present a certificate)."""

    def __init__(
        self,
        service: str,
        address: str,
        register: Callable[[grpc.aio.Server], Iterable[str]],
        *,
        tls: GrpcTls | None = None,
        allowed_callers: Iterable[str] = (),
        health_address: str | None = None,
    ) -> None:
        self.service = service
        self.server = grpc.aio.server(
            interceptors=[
                aio_server_interceptor(),
                ChassisServerInterceptor(service, allowed_callers),
            ],
            options=[("grpc.so_reuseport", 0)],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(register(self.server))
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        if tls is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, tls.server_credentials())
        if self.port == 0:
            raise RuntimeError(f"{service}: cannot bind gRPC on {address}")
        self.health_server: grpc.aio.Server | None = None
        self.health_port: int | None = None
        if health_address is not None:
            self.health_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self.health_server)
            self.health_port = self.health_server.add_insecure_port(health_address)
            if self.health_port == 0:
                raise RuntimeError(f"{service}: cannot bind gRPC health on {health_address}")

    async def start(self) -> None:
        await self.server.start()
        if self.health_server is not None:
            await self.health_server.start()
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        if self.health_server is not None:
            await self.health_server.stop(0)
        await self.server.stop(grace)
