"""Grafana dashboards as code: `python deploy/monitoring/build.py` writes dashboards/*.json.

Every query uses the datasource variable ${DS_PROMETHEUS} (pick it on import). A panel is one
`panel(title, [queries], unit)` line: the panels still listed in planned.yaml are added here, by
metric name, when those metrics exist (a test fails while a planned metric is exported but no
dashboard uses it).

Label contract with the scrape configuration (docs/operations.md): the chassis metrics carry
`service`; every target's `job` is its service name (identity, catalog, ...), which is how the
process_* metrics and `up` are told apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SCHEMA_VERSION = 39
SERVICES = ("identity", "catalog", "inventory", "cart", "checkout", "payments")
RATE = "$__rate_interval"


@dataclass
class Panel:
    title: str
    queries: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    width: int = 12


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    rows: list[tuple[str, list[Panel]]]
    service_variable: bool = False
    tags: list[str] = field(default_factory=list)


def panel(title, queries, unit="short", **kw) -> Panel:
    return Panel(title, [(q, legend) for q, legend in queries], unit, **kw)


def quantiles(metric: str, by: str, where: str, legend_prefix: str = "") -> list[tuple[str, str]]:
    selector = f"{{{where}}}" if where else ""
    return [
        (
            f"histogram_quantile({q}, sum by ({by}le) (rate({metric}_bucket{selector}[{RATE}])))",
            f"{legend_prefix}p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


SVC = 'service="$service"'
# Failure reasons that are the shop's fault, not the customer's (rules/alerts.rules.yaml,
# CheckoutSagasFailingOnOurSide).
OUR_FAULTS = '"dependency_unavailable|payment_capture_failed|reservation_expired"'

GOLDEN = Dashboard(
    uid="vanity-golden-signals",
    title="Vanity / Golden signals per service",
    description="Traffic, errors, latency and saturation of one service (pick it above).",
    service_variable=True,
    tags=["vanity", "golden-signals"],
    rows=[
        (
            "Traffic and errors",
            [
                panel(
                    "Requests per second by route",
                    [
                        (
                            f"sum by (method, route) (rate(vanity_http_requests_total{{{SVC}}}[{RATE}]))",
                            "{{method}} {{route}}",
                        )
                    ],
                    "reqps",
                ),
                panel(
                    "5xx ratio",
                    [
                        (
                            f'sum(rate(vanity_http_requests_total{{{SVC},status=~"5.."}}[{RATE}]))'
                            f" / sum(rate(vanity_http_requests_total{{{SVC}}}[{RATE}]))",
                            "5xx",
                        )
                    ],
                    "percentunit",
                ),
                panel(
                    "Responses by status",
                    [
                        (
                            f"sum by (status) (rate(vanity_http_requests_total{{{SVC}}}[{RATE}]))",
                            "{{status}}",
                        )
                    ],
                    "reqps",
                ),
                panel(
                    "4xx ratio (clients' mistakes, auth failures)",
                    [
                        (
                            f'sum(rate(vanity_http_requests_total{{{SVC},status=~"4.."}}[{RATE}]))'
                            f" / sum(rate(vanity_http_requests_total{{{SVC}}}[{RATE}]))",
                            "4xx",
                        )
                    ],
                    "percentunit",
                ),
            ],
        ),
        (
            "Latency",
            [
                panel(
                    "HTTP latency (all routes)",
                    quantiles("vanity_http_request_duration_seconds", "", SVC),
                    "s",
                ),
                panel(
                    "HTTP p95 by route",
                    [
                        (
                            "histogram_quantile(0.95, sum by (route, le) "
                            f"(rate(vanity_http_request_duration_seconds_bucket{{{SVC}}}[{RATE}])))",
                            "{{route}}",
                        )
                    ],
                    "s",
                ),
            ],
        ),
        (
            "Saturation",
            [
                panel(
                    "Database pool: connections checked out / pool size",
                    [
                        (f"sum(vanity_db_pool_checked_out{{{SVC}}})", "checked out"),
                        (f"sum(vanity_db_pool_size{{{SVC}}})", "pool size"),
                        (f"sum(vanity_db_pool_overflow{{{SVC}}})", "overflow"),
                    ],
                ),
                panel(
                    "Process CPU (cores)",
                    [
                        (
                            f'sum by (instance) (rate(process_cpu_seconds_total{{job="$service"}}[{RATE}]))',
                            "{{instance}}",
                        )
                    ],
                ),
                panel(
                    "Process memory (resident)",
                    [
                        (
                            'sum by (instance) (process_resident_memory_bytes{job="$service"})',
                            "{{instance}}",
                        )
                    ],
                    "bytes",
                ),
                panel(
                    "Open file descriptors / limit",
                    [
                        (
                            'max by (instance) (process_open_fds{job="$service"}'
                            ' / process_max_fds{job="$service"})',
                            "{{instance}}",
                        )
                    ],
                    "percentunit",
                ),
                panel(
                    "Targets up",
                    [('sum(up{job="$service"})', "up"), ('count(up{job="$service"})', "targets")],
                ),
                panel(
                    "Python GC collections per second",
                    [
                        (
                            f'sum by (generation) (rate(python_gc_collections_total{{job="$service"}}[{RATE}]))',
                            "gen {{generation}}",
                        )
                    ],
                ),
            ],
        ),
    ],
)

GRPC = Dashboard(
    uid="vanity-grpc",
    title="Vanity / gRPC between services",
    description="Internal calls: served (server side) and made (client side), per method.",
    service_variable=True,
    tags=["vanity", "grpc"],
    rows=[
        (
            "Served by $service",
            [
                panel(
                    "Calls per second by method",
                    [
                        (
                            f"sum by (method) (rate(vanity_grpc_server_handled_total{{{SVC}}}[{RATE}]))",
                            "{{method}}",
                        )
                    ],
                    "reqps",
                ),
                panel(
                    "Non-OK codes per second",
                    [
                        (
                            "sum by (method, code) (rate(vanity_grpc_server_handled_total"
                            f'{{{SVC},code!="OK"}}[{RATE}]))',
                            "{{method}} {{code}}",
                        )
                    ],
                    "reqps",
                ),
                panel(
                    "Handling time",
                    quantiles("vanity_grpc_server_handling_seconds", "", SVC),
                    "s",
                ),
                panel(
                    "p95 by method",
                    [
                        (
                            "histogram_quantile(0.95, sum by (method, le) "
                            f"(rate(vanity_grpc_server_handling_seconds_bucket{{{SVC}}}[{RATE}])))",
                            "{{method}}",
                        )
                    ],
                    "s",
                ),
            ],
        ),
        (
            "Made by $service",
            [
                panel(
                    "Calls per second by target method and code",
                    [
                        (
                            "sum by (target_method, code) "
                            f"(rate(vanity_grpc_client_handled_total{{{SVC}}}[{RATE}]))",
                            "{{target_method}} {{code}}",
                        )
                    ],
                    "reqps",
                ),
                panel(
                    "Round trip p95 by target method",
                    [
                        (
                            "histogram_quantile(0.95, sum by (target_method, le) "
                            f"(rate(vanity_grpc_client_handling_seconds_bucket{{{SVC}}}[{RATE}])))",
                            "{{target_method}}",
                        )
                    ],
                    "s",
                ),
            ],
        ),
    ],
)

INVENTORY = Dashboard(
    uid="vanity-inventory",
    title="Vanity / Inventory",
    description="Reservations and commits by outcome, hot-SKU contention, the ledger audit.",
    tags=["vanity", "inventory"],
    rows=[
        (
            "Reservations",
            [
                panel(
                    "Reserve calls by outcome",
                    [
                        (
                            f"sum by (outcome) (rate(vanity_inventory_reservations_total[{RATE}]))",
                            "{{outcome}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Commit calls by outcome",
                    [
                        (
                            f"sum by (outcome) (rate(vanity_inventory_commits_total[{RATE}]))",
                            "{{outcome}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Share of reservations refused for lack of stock",
                    [
                        (
                            'sum(rate(vanity_inventory_reservations_total{outcome="insufficient"}'
                            f"[{RATE}])) / sum(rate(vanity_inventory_reservations_total[{RATE}]))",
                            "insufficient",
                        )
                    ],
                    "percentunit",
                ),
                panel(
                    "Reservations expired per minute",
                    [("sum(increase(vanity_inventory_reservations_expired_total[1m]))", "expired")],
                ),
            ],
        ),
        (
            "Contention (hot SKUs)",
            [
                panel(
                    "Write transactions re-run after a deadlock or lock timeout",
                    [(f"sum(rate(vanity_inventory_tx_retries_total[{RATE}]))", "retries/s")],
                    "ops",
                    description="Rises when many buyers reserve the same SKU at once.",
                ),
                panel(
                    "Retries per reservation",
                    [
                        (
                            f"sum(rate(vanity_inventory_tx_retries_total[{RATE}]))"
                            f" / sum(rate(vanity_inventory_reservations_total[{RATE}]))",
                            "retries per reserve",
                        )
                    ],
                ),
                panel(
                    "Reserve (gRPC) p95 and p99",
                    [
                        (
                            "histogram_quantile(0.95, sum by (le) (rate("
                            'vanity_grpc_server_handling_seconds_bucket{service="inventory",'
                            f'method=~".*Reserve"}}[{RATE}])))',
                            "p95",
                        ),
                        (
                            "histogram_quantile(0.99, sum by (le) (rate("
                            'vanity_grpc_server_handling_seconds_bucket{service="inventory",'
                            f'method=~".*Reserve"}}[{RATE}])))',
                            "p99",
                        ),
                    ],
                    "s",
                ),
            ],
        ),
        (
            "Ledger and stock",
            [
                panel(
                    "SKUs drifting from the ledger (last audit)",
                    [("max(vanity_inventory_ledger_drift_skus)", "drifting SKUs")],
                    kind="stat",
                ),
                panel(
                    "Audits by result (per hour)",
                    [
                        (
                            "sum by (result) (increase(vanity_inventory_audit_runs_total[1h]))",
                            "{{result}}",
                        )
                    ],
                ),
                panel(
                    "Admin stock changes by kind",
                    [
                        (
                            f"sum by (kind) (rate(vanity_inventory_adjustments_total[{RATE}]))",
                            "{{kind}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Low-stock notifications (per hour)",
                    [("sum(increase(vanity_inventory_low_stock_notifications_total[1h]))", "sent")],
                ),
            ],
        ),
    ],
)

OUTBOX = Dashboard(
    uid="vanity-outbox",
    title="Vanity / Outbox and background jobs",
    description="Messages leaving each service through its outbox; Celery retries and dead tasks.",
    tags=["vanity", "outbox"],
    rows=[
        (
            "Outbox",
            [
                # max: every relay of a service (API replicas, workers) counts the same table
                panel(
                    "Pending messages (backlog) by service",
                    [('max by (service) (vanity_outbox_rows{status="pending"})', "{{service}}")],
                ),
                panel(
                    "Dead messages by service (need a person: `outbox requeue`)",
                    [('max by (service) (vanity_outbox_rows{status="dead"})', "{{service}}")],
                ),
                panel(
                    "Delivered per second by topic",
                    [
                        (
                            f"sum by (service, topic) (rate(vanity_outbox_delivered_total[{RATE}]))",
                            "{{service}} {{topic}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Failed deliveries and newly dead messages per second",
                    [
                        (
                            "sum by (service, topic) "
                            f"(rate(vanity_outbox_delivery_failures_total[{RATE}]))",
                            "failed {{service}} {{topic}}",
                        ),
                        (
                            f"sum by (service, topic) (rate(vanity_outbox_dead_total[{RATE}]))",
                            "dead {{service}} {{topic}}",
                        ),
                    ],
                    "ops",
                ),
                panel(
                    "Publish-to-delivery lag",
                    quantiles("vanity_outbox_delivery_lag_seconds", "", ""),
                    "s",
                ),
                panel(
                    "Lag p99 by service",
                    [
                        (
                            "histogram_quantile(0.99, sum by (service, le) "
                            f"(rate(vanity_outbox_delivery_lag_seconds_bucket[{RATE}])))",
                            "{{service}}",
                        )
                    ],
                    "s",
                ),
            ],
        ),
        (
            "Celery tasks",
            [
                panel(
                    "Task retries per second",
                    [(f"sum by (task) (rate(vanity_task_retries_total[{RATE}]))", "{{task}}")],
                    "ops",
                ),
                panel(
                    "Tasks failed for good (per hour)",
                    [("sum by (task) (increase(vanity_task_dead_total[1h]))", "{{task}}")],
                ),
            ],
        ),
    ],
)

COMMERCE = Dashboard(
    uid="vanity-commerce",
    title="Vanity / Cart, checkout and payments",
    description=(
        "The checkout saga (orders ended by outcome, failure reasons, retries, recovery, time to "
        "the first stop), checkout over HTTP, payments' reconciliation and the cart. Panels "
        "still waiting for a metric: deploy/monitoring/planned.yaml."
    ),
    tags=["vanity", "checkout", "payments", "cart"],
    rows=[
        (
            "Checkout saga",
            [
                panel(
                    "Orders ended per minute: confirmed, failed (compensated), cancelled",
                    [
                        (
                            "sum(rate(vanity_checkout_sagas_ended_total"
                            f'{{state="completed"}}[{RATE}])) * 60',
                            "confirmed",
                        ),
                        (
                            "sum(rate(vanity_checkout_sagas_ended_total"
                            f'{{state="failed",reason!~"cancelled_by_.*"}}[{RATE}])) * 60',
                            "failed",
                        ),
                        (
                            "sum(rate(vanity_checkout_sagas_ended_total"
                            f'{{state="failed",reason=~"cancelled_by_.*"}}[{RATE}])) * 60',
                            "cancelled after confirmation",
                        ),
                    ],
                    description="A saga ends once; a confirmed order cancelled later ends a "
                    "second time, as failed with reason cancelled_by_*.",
                ),
                panel(
                    "Orders placed per minute (sagas started)",
                    [(f"sum(rate(vanity_checkout_sagas_started_total[{RATE}])) * 60", "started")],
                ),
                panel(
                    "Failed orders per minute by reason",
                    [
                        (
                            "sum by (reason) (rate(vanity_checkout_sagas_ended_total"
                            f'{{state="failed"}}[{RATE}])) * 60',
                            "{{reason}}",
                        )
                    ],
                ),
                panel(
                    "Share of orders failing: all reasons, and the shop's own faults",
                    [
                        (
                            "sum(rate(vanity_checkout_sagas_ended_total"
                            f'{{state="failed",reason!~"cancelled_by_.*"}}[{RATE}]))'
                            " / sum(rate(vanity_checkout_sagas_ended_total"
                            f'{{reason!~"cancelled_by_.*"}}[{RATE}]))',
                            "failed",
                        ),
                        (
                            'sum(rate(vanity_checkout_sagas_ended_total{state="failed",'
                            f"reason=~{OUR_FAULTS}}}[{RATE}]))"
                            " / sum(rate(vanity_checkout_sagas_ended_total"
                            f'{{reason!~"cancelled_by_.*"}}[{RATE}]))',
                            "shop's fault",
                        ),
                    ],
                    "percentunit",
                ),
                panel(
                    "Saga transitions per second (compensate: a forward step failed for good)",
                    [
                        (
                            "sum by (transition, to_state) "
                            f"(rate(vanity_checkout_saga_transitions_total[{RATE}]))",
                            "{{transition}} -> {{to_state}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Step retries per second by step (transient failure or unknown outcome)",
                    [
                        (
                            "sum by (step) "
                            f"(rate(vanity_checkout_saga_step_retries_total[{RATE}]))",
                            "{{step}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Recovery sweep: sagas claimed, and step commits refused (lease lost)",
                    [
                        (
                            "sum(increase(vanity_checkout_saga_recovered_total[5m]))",
                            "claimed (per 5 min)",
                        ),
                        (
                            "sum(increase(vanity_checkout_saga_lost_leases_total[5m]))",
                            "lost leases (per 5 min)",
                        ),
                    ],
                    description="Lost leases: a run outlived its lease (a step slower than "
                    "SAGA_LEASE_SECONDS) and another run took the saga over.",
                ),
                panel(
                    "In-flight sagas by state",
                    [("max by (state) (vanity_checkout_sagas_in_flight)", "{{state}}")],
                    description="Read from the saga table by the recovery sweep (every ~10 s): "
                    "running, waiting for the customer's 3-D Secure, compensating.",
                ),
                panel(
                    "Age of the oldest in-flight saga (alert: 30 min)",
                    [("max(vanity_checkout_saga_oldest_in_flight_seconds)", "oldest")],
                    "s",
                    description="A 3-D Secure wait ends before the reservation's TTL and a "
                    "forward step gives up after ~4 min of retries: an older saga is stuck "
                    "(CheckoutSagaOldestInFlight).",
                ),
                panel(
                    "Saga step latency p95 by step (remote call and commit)",
                    [
                        (
                            "histogram_quantile(0.95, sum by (step, le) "
                            f"(rate(vanity_checkout_saga_step_duration_seconds_bucket[{RATE}])))",
                            "{{step}}",
                        )
                    ],
                    "s",
                ),
                panel(
                    "Time to the saga's first stop (confirmed, failed or waiting)",
                    quantiles("vanity_checkout_place_order_seconds", "", ""),
                    "s",
                ),
                panel(
                    "Orders reaching the first stop within 500 ms (SLO: 95 %)",
                    [
                        (
                            "sum(rate(vanity_checkout_place_order_seconds_bucket"
                            f'{{le="0.5"}}[{RATE}]))'
                            f" / sum(rate(vanity_checkout_place_order_seconds_count[{RATE}]))",
                            "within 500 ms",
                        )
                    ],
                    "percentunit",
                ),
            ],
        ),
        (
            "Checkout over HTTP",
            [
                panel(
                    "POST /api/v1/checkout per second by status",
                    [
                        (
                            "sum by (status) (rate(vanity_http_requests_total{service="
                            f'"checkout",method="POST",route="/api/v1/checkout"}}[{RATE}]))',
                            "{{status}}",
                        )
                    ],
                    "reqps",
                ),
                panel(
                    "POST /api/v1/checkout latency",
                    quantiles(
                        "vanity_http_request_duration_seconds",
                        "",
                        'service="checkout",method="POST",route="/api/v1/checkout"',
                    ),
                    "s",
                ),
                panel(
                    "Checkout's gRPC calls to its peers by code",
                    [
                        (
                            "sum by (target_method, code) (rate(vanity_grpc_client_handled_total"
                            f'{{service="checkout"}}[{RATE}]))',
                            "{{target_method}} {{code}}",
                        )
                    ],
                    "reqps",
                ),
            ],
        ),
        (
            "Payments",
            [
                panel(
                    "Provider calls per second: authorize, capture, void, refund by result",
                    [
                        (
                            "sum by (operation, result) "
                            f"(rate(vanity_payments_operations_total[{RATE}]))",
                            "{{operation}} {{result}}",
                        )
                    ],
                    "ops",
                    description="declined: the card said no; refused: an invalid request; "
                    "error: a timeout or 5xx (reconciliation learns the outcome).",
                ),
                panel(
                    "Stripe webhooks per second by type and result",
                    [
                        (
                            f"sum by (type, result) (rate(vanity_payments_webhooks_total[{RATE}]))",
                            "{{type}} {{result}}",
                        )
                    ],
                    "ops",
                    description="bad_signature: missing, forged, tampered or stale (400, "
                    "nothing stored); duplicate: an event id already processed.",
                ),
                panel(
                    "Stripe webhook lag (event created -> processed)",
                    quantiles("vanity_payments_webhook_lag_seconds", "", ""),
                    "s",
                ),
                panel(
                    "Reconciliation mismatches (per hour; a person must act)",
                    [
                        (
                            "sum by (source) "
                            "(increase(vanity_payments_reconciliation_mismatches_total[1h]))",
                            "{{source}}",
                        )
                    ],
                ),
                panel(
                    "Payments reconciled by resulting status (per hour)",
                    [
                        (
                            "sum by (status) (increase(vanity_payments_reconciled_total[1h]))",
                            "{{status}}",
                        )
                    ],
                ),
                panel(
                    "Orphan authorizations voided (per hour)",
                    [
                        (
                            "sum(increase(vanity_payments_orphan_authorizations_voided_total[1h]))",
                            "voided",
                        )
                    ],
                ),
            ],
        ),
        (
            "Cart",
            [
                panel(
                    "Cart views answered without live data, by dependency",
                    [
                        (
                            f"sum by (dependency) (rate(vanity_cart_degraded_views_total[{RATE}]))",
                            "{{dependency}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Guest-cart merges at sign-in by outcome",
                    [
                        (
                            f"sum by (outcome) (rate(vanity_cart_merges_total[{RATE}]))",
                            "{{outcome}}",
                        )
                    ],
                    "ops",
                ),
                panel(
                    "Cart write retries (deadlock, lock timeout)",
                    [(f"sum(rate(vanity_cart_tx_retries_total[{RATE}]))", "retries/s")],
                    "ops",
                ),
                panel(
                    "Guest carts expired (per hour)",
                    [("sum(increase(vanity_cart_guest_carts_expired_total[1h]))", "deleted")],
                ),
            ],
        ),
    ],
)

SLO = Dashboard(
    uid="vanity-slo",
    title="Vanity / SLOs and error budgets",
    description="Browse and checkout SLOs (deploy/monitoring/slos.py): error ratio per window "
    "and burn rate (1 = the budget lasts exactly 30 days).",
    tags=["vanity", "slo"],
    rows=[],  # filled from slos.SLOS below
)


def _slo_rows() -> list[tuple[str, list[Panel]]]:
    from slos import SLOS, WINDOWS

    rows = []
    for slo in SLOS:
        rows.append(
            (
                f"{slo.name}: {slo.summary}",
                [
                    panel(
                        "Error ratio by window",
                        [
                            (f'slo:sli_error:ratio_rate{w}{{slo="{slo.name}"}}', w)
                            for w in ("5m", "1h", "6h", "1d", "3d")
                        ],
                        "percentunit",
                    ),
                    panel(
                        "Burn rate (1h and 6h)",
                        [
                            (f'slo:sli_error:ratio_rate{w}{{slo="{slo.name}"}} / {slo.budget}', w)
                            for w in ("1h", "6h")
                        ],
                    ),
                    panel(
                        "Budget spent over the last 3 days",
                        [
                            (
                                f'slo:sli_error:ratio_rate3d{{slo="{slo.name}"}} / {slo.budget}'
                                " * 3 / 30",
                                "share of the 30-day budget",
                            )
                        ],
                        "percentunit",
                        kind="stat",
                    ),
                ],
            )
        )
    assert set(WINDOWS) >= {"5m", "1h", "6h", "1d", "3d"}
    return rows


def _panel_json(p: Panel, pid: int, x: int, y: int) -> dict:
    body = {
        "id": pid,
        "type": p.kind,
        "title": p.title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": p.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if p.kind == "timeseries"
        else {"reduceOptions": {"calcs": ["lastNotNull"]}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": q, "legendFormat": legend}
            for i, (q, legend) in enumerate(p.queries)
        ],
    }
    if p.description:
        body["description"] = p.description
    return body


def render(d: Dashboard) -> dict:
    panels, pid, y = [], 1, 0
    for title, row_panels in d.rows:
        panels.append(
            {
                "id": pid,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        pid, y, x = pid + 1, y + 1, 0
        for p in row_panels:
            if x + p.width > 24:
                x, y = 0, y + 8
            panels.append(_panel_json(p, pid, x, y))
            pid, x = pid + 1, x + p.width
        y += 8
    variables = [
        {
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
        }
    ]
    if d.service_variable:
        variables.append(
            {
                "name": "service",
                "label": "Service",
                "type": "query",
                "datasource": DS,
                "query": {
                    "query": "label_values(vanity_http_requests_total, service)",
                    "refId": "service",
                },
                "definition": "label_values(vanity_http_requests_total, service)",
                "refresh": 2,
                "current": {"text": "catalog", "value": "catalog"},
                "options": [],
                "includeAll": False,
                "multi": False,
                "hide": 0,
            }
        )
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": d.tags,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "utc",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboards() -> list[Dashboard]:
    SLO.rows = _slo_rows()
    return [GOLDEN, GRPC, INVENTORY, OUTBOX, COMMERCE, SLO]
