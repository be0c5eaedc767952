"""gRPC clients: one reused channel per target, default deadlines, request-id and trace
propagation, metrics, and retries only for the methods a caller declares idempotent."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from vanity_common.context import REQUEST_ID_METADATA, current_request_id
from vanity_common.metrics import GRPC_CLIENT_DURATION, GRPC_CLIENT_HANDLED


class _ChassisClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, service: str) -> None:
        self.service = service

    async def intercept_unary_unary(self, continuation, client_call_details, request):
        metadata = list(client_call_details.metadata or ())
        request_id = current_request_id()
        if request_id and not any(k == REQUEST_ID_METADATA for k, _ in metadata):
            metadata.append((REQUEST_ID_METADATA, request_id))
        details = client_call_details._replace(metadata=grpc.aio.Metadata(*metadata))
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        method = method.lstrip("/")
        started = time.perf_counter()
        call = await continuation(details, request)
        try:
            await call
            code = grpc.StatusCode.OK
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        GRPC_CLIENT_HANDLED.labels(self.service, method, code.name).inc()
        GRPC_CLIENT_DURATION.labels(self.service, method).observe(time.perf_counter() - started)
        return call


def service_config(grpc_service: str, idempotent_methods: Iterable[str], timeout_s: float) -> str:
    """A gRPC service config: a default deadline for every method, retries for idempotent ones."""
    timeout = f"{timeout_s:.3f}s"
    configs: list[dict] = [{"name": [{"service": grpc_service}], "timeout": timeout}]
    idempotent = list(idempotent_methods)
    if idempotent:
        configs.insert(
            0,
            {
                "name": [{"service": grpc_service, "method": m} for m in idempotent],
                "timeout": timeout,
                "retryPolicy": {
                    "maxAttempts": 3,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "0.5s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            },
        )
    return json.dumps({"methodConfig": configs})


class ChannelPool:
    """Channels are expensive and multiplexed: one per target for the life of the process."""

    def __init__(self, caller_service: str) -> None:
        self.caller = caller_service
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(
        self,
        target: str,
        grpc_service: str,
        idempotent_methods: Iterable[str] = (),
        timeout_s: float = 3.0,
    ) -> grpc.aio.Channel:
        key = f"{target}|{grpc_service}"
        if key not in self._channels:
            self._channels[key] = grpc.aio.insecure_channel(
                target,
                options=[
                    (
                        "grpc.service_config",
                        service_config(grpc_service, idempotent_methods, timeout_s),
                    ),
                    ("grpc.enable_retries", 1),
                    ("grpc.keepalive_time_ms", 30_000),
                ],
                interceptors=[*aio_client_interceptors(), _ChassisClientInterceptor(self.caller)],
            )
        return self._channels[key]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
