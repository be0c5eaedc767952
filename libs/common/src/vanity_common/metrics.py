"""Prometheus metrics: HTTP and gRPC rate/errors/duration, DB pool, exposed at /metrics."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "vanity_http_requests_total",
    "HTTP requests handled",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "vanity_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=_BUCKETS,
)
GRPC_SERVER_HANDLED = Counter(
    "vanity_grpc_server_handled_total", "gRPC calls handled", ["service", "method", "code"]
)
GRPC_SERVER_DURATION = Histogram(
    "vanity_grpc_server_handling_seconds",
    "gRPC server handling time",
    ["service", "method"],
    buckets=_BUCKETS,
)
GRPC_CLIENT_HANDLED = Counter(
    "vanity_grpc_client_handled_total", "gRPC calls made", ["service", "target_method", "code"]
)
GRPC_CLIENT_DURATION = Histogram(
    "vanity_grpc_client_handling_seconds",
    "gRPC client round trip",
    ["service", "target_method"],
    buckets=_BUCKETS,
)


class DatabasePoolCollector(Collector):
    """Reads the SQLAlchemy pool at scrape time (no background polling)."""

    def __init__(self, service: str, engine) -> None:
        self.service = service
        self.engine = engine

    def collect(self):
        pool = self.engine.sync_engine.pool
        for name, attr in (
            ("checked_out", "checkedout"),
            ("size", "size"),
            ("overflow", "overflow"),
        ):
            getter = getattr(pool, attr, None)
            if getter is None:
                continue
            family = GaugeMetricFamily(
                f"vanity_db_pool_{name}", f"SQLAlchemy pool {name}", labels=["service"]
            )
            family.add_metric([self.service], float(getter()))
            yield family


def register_pool_collector(service: str, engine, registry: CollectorRegistry = REGISTRY) -> None:
    registry.register(DatabasePoolCollector(service, engine))


def render_latest(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST
