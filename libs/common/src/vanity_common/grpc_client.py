"""gRPC clients: one reused channel per target, default deadlines, request-id and trace
propagation, metrics, and retries only for the methods a caller declares idempotent.

Calls to another service go through a `Port` (one small class per other service, in the
calling service): it wraps the generated stub, declares which methods are safe to retry, and
turns a failed call into something the caller can act on. A failure whose `vanity-error-reason`
the port names becomes the port's own (domain) exception; any other failure becomes
`DependencyUnavailable` (503: unreachable or too slow; for a mutation the outcome is unknown)
or `DependencyFailed` (502: the other service refused in a way this caller did not expect).
Entry points and use cases never touch a stub.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from vanity_common.context import REQUEST_ID_METADATA, current_request_id
from vanity_common.errors import REASON_METADATA_KEY, ServiceError
from vanity_common.metrics import GRPC_CLIENT_DURATION, GRPC_CLIENT_HANDLED
from vanity_common.tls import GrpcTls, grpc_tls_from_settings


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
    """Channels are expensive and multiplexed: one per target for the life of the process.

    With `tls` every channel is mutual TLS: the caller shows its own certificate and accepts
    only a server whose certificate, from the same CA, names the target's host (a Service name,
    localhost or 127.0.0.1 for the development certificates). Without: plaintext."""

    def __init__(self, caller_service: str, tls: GrpcTls | None = None) -> None:
        self.caller = caller_service
        self.tls = tls
        self._credentials = tls.channel_credentials() if tls is not None else None
        self._channels: dict[str, grpc.aio.Channel] = {}

    @classmethod
    def from_settings(cls, settings) -> ChannelPool:
        """The pool of a service process: its name, and its TLS material when configured
        (production refuses to build one without: vanity_common.tls)."""
        return cls(settings.service_name, grpc_tls_from_settings(settings))

    def channel(
        self,
        target: str,
        grpc_service: str,
        idempotent_methods: Iterable[str] = (),
        timeout_s: float = 3.0,
    ) -> grpc.aio.Channel:
        key = f"{target}|{grpc_service}"
        if key not in self._channels:
            options = [
                (
                    "grpc.service_config",
                    service_config(grpc_service, idempotent_methods, timeout_s),
                ),
                ("grpc.enable_retries", 1),
                ("grpc.keepalive_time_ms", 30_000),
            ]
            interceptors = [*aio_client_interceptors(), _ChassisClientInterceptor(self.caller)]
            if self._credentials is None:
                channel = grpc.aio.insecure_channel(
                    target, options=options, interceptors=interceptors
                )
            else:
                channel = grpc.aio.secure_channel(
                    target, self._credentials, options=options, interceptors=interceptors
                )
            self._channels[key] = channel
        return self._channels[key]

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()


# Codes after which the other service may or may not have acted: the caller retries (every
# mutation in these contracts is idempotent) or asks the other service what happened.
TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
    }
)


@dataclass(frozen=True)
class RemoteFailure:
    """A failed call to another service, as its status code and `vanity-error-reason`."""

    service: str
    method: str
    code: grpc.StatusCode
    reason: str | None
    details: str

    @classmethod
    def from_rpc_error(cls, service: str, method: str, error: grpc.aio.AioRpcError):
        reason = None
        for key, value in error.trailing_metadata() or ():
            if key == REASON_METADATA_KEY:
                reason = value
                break
        return cls(service, method, error.code(), reason, error.details() or "")

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES

    def __str__(self) -> str:
        return f"{self.service}.{self.method}: {self.code.name} {self.reason or ''} {self.details}"


class DependencyUnavailable(ServiceError):
    """The other service was unreachable or did not answer in time (503 / UNAVAILABLE)."""

    def __init__(self, failure: RemoteFailure) -> None:
        super().__init__(
            message="A service this request depends on is unavailable; try again shortly.",
            reason="DEPENDENCY_UNAVAILABLE",
            headers={"Retry-After": "1"},
            http_status=503,
            grpc_code=grpc.StatusCode.UNAVAILABLE,
        )
        self.failure = failure


class DependencyFailed(ServiceError):
    """The other service refused the call for a reason the port does not translate (502)."""

    def __init__(self, failure: RemoteFailure) -> None:
        super().__init__(
            message="A service this request depends on failed.",
            reason="DEPENDENCY_ERROR",
            http_status=502,
            grpc_code=grpc.StatusCode.INTERNAL,
        )
        self.failure = failure


# reason -> the exception the port raises instead (built from the failure).
ReasonMap = Mapping[str, Callable[[RemoteFailure], Exception]]


def translate_failure(failure: RemoteFailure, reasons: ReasonMap | None = None) -> Exception:
    """The exception a port raises for a failed call: the named reason's, else the generic one."""
    if reasons and failure.reason in reasons:
        return reasons[failure.reason](failure)
    if failure.transient:
        return DependencyUnavailable(failure)
    return DependencyFailed(failure)


class Port:
    """Base of a client for one other service. A subclass sets the class variables and adds one
    small method per RPC it uses: build the request, `await self.call(...)`, return a plain view.

        class InventoryPort(Port):
            grpc_service = "vanity.inventory.v1.InventoryService"
            stub_type = inventory_pb2_grpc.InventoryServiceStub
            idempotent_methods = ("GetAvailability", "Reserve", ...)
    """

    grpc_service: ClassVar[str]
    stub_type: ClassVar[Callable[[grpc.aio.Channel], Any]]
    # Safe to retry on UNAVAILABLE (queries, and mutations idempotent by key or order id).
    idempotent_methods: ClassVar[tuple[str, ...]] = ()

    def __init__(self, channels: ChannelPool, target: str, *, timeout_s: float = 3.0) -> None:
        self.target = target
        self._channels = channels
        self._timeout_s = timeout_s
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    @property
    def stub(self) -> Any:
        """The stub on the pool's channel. Made on first use, not in __init__: a grpc.aio
        channel belongs to the event loop it was made on, and a container may be built before
        its loop runs (a Celery worker builds it, then runs tasks on the bridge's loop)."""
        channel = self._channels.channel(
            self.target, self.grpc_service, self.idempotent_methods, self._timeout_s
        )
        if channel is not self._channel:
            self._channel, self._stub = channel, self.stub_type(channel)
        return self._stub

    @classmethod
    def from_settings(cls, channels: ChannelPool, settings) -> Port:
        """Target `<service>_grpc_target` and the default deadline from the caller's settings."""
        target = getattr(settings, f"{cls.service_name()}_grpc_target")
        return cls(channels, target, timeout_s=settings.grpc_default_timeout_s)

    @classmethod
    def service_name(cls) -> str:
        # "vanity.inventory.v1.InventoryService" -> "inventory"
        return cls.grpc_service.split(".")[1]

    async def call(
        self,
        method: str,
        request: Any,
        *,
        reasons: ReasonMap | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        try:
            return await getattr(self.stub, method)(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as error:
            failure = RemoteFailure.from_rpc_error(self.service_name(), method, error)
            raise translate_failure(failure, reasons) from error

    async def find(
        self,
        method: str,
        request: Any,
        *,
        not_found: str,
        reasons: ReasonMap | None = None,
        timeout_s: float | None = None,
    ) -> Any | None:
        """`call` for a look-up where "not found" is an answer: None when the other service
        refuses with the reason `not_found` (e.g. "ORDER_NOT_FOUND")."""
        try:
            return await self.call(
                method,
                request,
                reasons={**(reasons or {}), not_found: _Missing},
                timeout_s=timeout_s,
            )
        except _Missing:
            return None


class _Missing(Exception):
    """Internal to `Port.find`: the other service found nothing."""

    def __init__(self, failure: RemoteFailure) -> None:
        super().__init__(str(failure))
