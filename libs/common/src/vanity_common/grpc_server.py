"""gRPC server bootstrap: health, reflection, and interceptors for tracing (OpenTelemetry),
request ids, logs, metrics and the translation of `ServiceError` into status codes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor

from vanity_common.context import REQUEST_ID_METADATA, new_request_id, request_id_var
from vanity_common.errors import REASON_METADATA_KEY, ServiceError
from vanity_common.metrics import GRPC_SERVER_DURATION, GRPC_SERVER_HANDLED

log = logging.getLogger(__name__)


class ChassisServerInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str) -> None:
        self.service = service

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary
        service = self.service

        async def unary(request, context: grpc.aio.ServicerContext):
            metadata = dict(context.invocation_metadata() or ())
            token = request_id_var.set(metadata.get(REQUEST_ID_METADATA) or new_request_id())
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
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
                    log.info("grpc %s -> %s (%.1f ms)", method, code.name, elapsed * 1000)
                request_id_var.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class GrpcServer:
    """A grpc.aio server on the caller's event loop, with health and reflection."""

    def __init__(
        self,
        service: str,
        address: str,
        register: Callable[[grpc.aio.Server], Iterable[str]],
    ) -> None:
        self.service = service
        self.server = grpc.aio.server(
            interceptors=[aio_server_interceptor(), ChassisServerInterceptor(service)],
            options=[("grpc.so_reuseport", 0)],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(register(self.server))
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise RuntimeError(f"{service}: cannot bind gRPC on {address}")

    async def start(self) -> None:
        await self.server.start()
        for name in ["", *self.service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
