"""prometheus (priority 13): Kong's metric names, exposed on the stand-in's status listener."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..context import RequestContext
from . import Plugin

REGISTRY = CollectorRegistry()
_BUCKETS = (1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000)
HTTP_REQUESTS = Counter(
    "kong_http_requests_total",
    "HTTP status codes per consumer/service/route in Kong",
    ["service", "route", "code", "source", "workspace", "consumer"],
    registry=REGISTRY,
)
KONG_LATENCY = Histogram(
    "kong_kong_latency_ms",
    "Latency added by Kong and enabled plugins for each service/route in Kong",
    ["service", "route", "workspace"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
UPSTREAM_LATENCY = Histogram(
    "kong_upstream_latency_ms",
    "Latency added by upstream response for each service/route in Kong",
    ["service", "route", "workspace"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
REQUEST_LATENCY = Histogram(
    "kong_request_latency_ms",
    "Total latency incurred during requests for each service/route in Kong",
    ["service", "route", "workspace"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
BANDWIDTH = Counter(
    "kong_bandwidth_bytes",
    "Total bandwidth (ingress/egress) throughput in bytes",
    ["service", "route", "direction", "workspace", "consumer"],
    registry=REGISTRY,
)


class Prometheus(Plugin):
    name = "prometheus"
    priority = 13
    has_access = False
    has_log = True

    def log(self, ctx: RequestContext, status: int, info: dict) -> None:
        route = ctx.route
        service = route.service.name if route else ""
        rname = route.name if route else ""
        consumer = ""
        if self.conf["per_consumer"] and ctx.consumer is not None:
            consumer = ctx.consumer.username or ctx.consumer.id
        if self.conf["status_code_metrics"]:
            source = "service" if ctx.proxied and not info.get("kong_error") else "kong"
            HTTP_REQUESTS.labels(service, rname, str(status), source, "default", consumer).inc()
        if self.conf["latency_metrics"]:
            total = info["total_ms"]
            REQUEST_LATENCY.labels(service, rname, "default").observe(total)
            if ctx.upstream_latency_ms is not None:
                UPSTREAM_LATENCY.labels(service, rname, "default").observe(ctx.upstream_latency_ms)
                KONG_LATENCY.labels(service, rname, "default").observe(
                    max(0.0, total - ctx.upstream_latency_ms)
                )
            else:
                KONG_LATENCY.labels(service, rname, "default").observe(total)
        if self.conf["bandwidth_metrics"]:
            BANDWIDTH.labels(service, rname, "ingress", "default", consumer).inc(info["bytes_in"])
            BANDWIDTH.labels(service, rname, "egress", "default", consumer).inc(info["bytes_out"])
