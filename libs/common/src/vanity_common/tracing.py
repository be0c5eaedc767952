"""OpenTelemetry tracing: a real tracer provider always (so logs carry trace ids), an OTLP
exporter only when OTEL_EXPORTER_OTLP_ENDPOINT is configured. W3C trace context propagates from
incoming HTTP (FastAPI's native telemetry, see app.py) through outgoing gRPC
(opentelemetry-instrumentation-grpc)."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

_configured = False


def configure_tracing(
    service: str,
    otlp_endpoint: str | None = None,
    sample_ratio: float = 1.0,
    exporter: SpanExporter | None = None,
) -> TracerProvider:
    """Installs the process-wide tracer provider once; later calls only add exporters."""
    global _configured
    provider = trace.get_tracer_provider()
    if not _configured or not isinstance(provider, TracerProvider):
        provider = TracerProvider(
            resource=Resource.create({"service.name": f"vanity-{service}"}),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        trace.set_tracer_provider(provider)
        _configured = True
    if otlp_endpoint and exporter is None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
