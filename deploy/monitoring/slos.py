"""The shop's SLOs, and the recording + burn-rate alert rules they imply.

`python deploy/monitoring/build.py` writes rules/slo.rules.yaml from SLOS below; a test fails
when the committed file differs. Multi-window, multi-burn-rate alerts as in the Google SRE
workbook ("Alerting on SLOs", table 5-8): page when 2 % of the 30-day budget burns in 1 h or 5 %
in 6 h, open a ticket when 10 % burns in 3 days (1 d / 2 h and 3 d / 6 h windows); each long
window is paired with a short one (1/12 of it) so an alert stops soon after the burn stops.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, long window, short window, burn rate)
BURN_ALERTS = (
    ("page", "1h", "5m", 14.4),
    ("page", "6h", "30m", 6),
    ("ticket", "1d", "2h", 3),
    ("ticket", "3d", "6h", 1),
)
HTTP_REQUESTS = "vanity_http_requests_total"
HTTP_DURATION = "vanity_http_request_duration_seconds"
# The checkout saga's own clock: from the request to the saga's first stop (confirmed, failed,
# or waiting for the customer's 3-D Secure), also when the response went out before it (202).
PLACE_ORDER_DURATION = "vanity_checkout_place_order_seconds"


@dataclass(frozen=True)
class Slo:
    name: str  # the `slo` label of every series and alert
    alert: str  # alert name prefix
    service: str
    selector: str  # PromQL label matchers of the requests the SLO covers (no status)
    objective: float  # e.g. 0.999: the share of good events over 30 days
    kind: str  # "availability" (not 5xx) or "latency" (under threshold_s)
    summary: str
    threshold_s: str = ""  # a bucket boundary of the histogram, as its `le` label
    histogram: str = HTTP_DURATION  # latency SLOs: the histogram whose buckets are the SLI

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 6)

    def error_ratio(self, window: str) -> str:
        if self.kind == "availability":
            bad = f'sum(rate({HTTP_REQUESTS}{{{self.selector},status=~"5.."}}[{window}]))'
            total = f"sum(rate({HTTP_REQUESTS}{{{self.selector}}}[{window}]))"
            return f"{bad}\n/\n{total}"
        matchers = ",".join(filter(None, (self.selector, f'le="{self.threshold_s}"')))
        good = f"sum(rate({self.histogram}_bucket{{{matchers}}}[{window}]))"
        every = f"{{{self.selector}}}" if self.selector else ""
        total = f"sum(rate({self.histogram}_count{every}[{window}]))"
        return f"1 - (\n{good}\n/\n{total}\n)"


BROWSE_ROUTES = 'route=~"/api/v1/(products|products/\\\\{slug\\\\}|brands|categories)"'
CHECKOUT_ROUTE = 'route="/api/v1/checkout"'

SLOS = (
    Slo(
        name="browse-availability",
        alert="BrowseAvailability",
        service="catalog",
        selector=f'service="catalog",method="GET",{BROWSE_ROUTES}',
        objective=0.999,
        kind="availability",
        summary="99.9 % of catalog GETs (products, brands, categories) answer without a 5xx",
    ),
    Slo(
        name="browse-latency",
        alert="BrowseLatency",
        service="catalog",
        selector=f'service="catalog",method="GET",{BROWSE_ROUTES}',
        objective=0.99,
        kind="latency",
        threshold_s="0.05",
        summary="99 % of catalog GETs answer within 50 ms",
    ),
    Slo(
        name="checkout-availability",
        alert="CheckoutAvailability",
        service="checkout",
        selector=f'service="checkout",method="POST",{CHECKOUT_ROUTE}',
        objective=0.999,
        kind="availability",
        summary="99.9 % of POST /api/v1/checkout answer without a 5xx",
    ),
    Slo(
        # The saga's histogram, not the HTTP one: it counts each new order once (no validation
        # refusals, no idempotent replays) and keeps timing a run that outlives its response.
        name="checkout-latency",
        alert="CheckoutLatency",
        service="checkout",
        selector="",  # only checkout exports it (API pods, and workers that place no order)
        objective=0.95,
        kind="latency",
        threshold_s="0.5",
        histogram=PLACE_ORDER_DURATION,
        summary="95 % of orders reach the saga's first stop (confirmed, failed or waiting for "
        "the customer) within 500 ms (the overview's p95)",
    ),
)


def recording_rules() -> list[dict]:
    rules = []
    for slo in SLOS:
        for window in WINDOWS:
            rules.append(
                {
                    "record": f"slo:sli_error:ratio_rate{window}",
                    "expr": slo.error_ratio(window),
                    "labels": {"slo": slo.name, "service": slo.service},
                }
            )
    return rules


def alert_rules() -> list[dict]:
    rules = []
    for slo in SLOS:
        for severity in ("page", "ticket"):
            clauses = []
            for sev, long, short, burn in BURN_ALERTS:
                if sev != severity:
                    continue
                threshold = f"({burn} * {slo.budget})"
                clauses.append(
                    f'(\n  slo:sli_error:ratio_rate{long}{{slo="{slo.name}"}} > {threshold}\n'
                    f'  and\n  slo:sli_error:ratio_rate{short}{{slo="{slo.name}"}} > {threshold}\n)'
                )
            fast = severity == "page"
            rules.append(
                {
                    "alert": f"{slo.alert}BudgetBurn{'Fast' if fast else 'Slow'}",
                    "expr": "\nor\n".join(clauses),
                    "for": "2m" if fast else "15m",
                    "labels": {"severity": severity, "slo": slo.name, "service": slo.service},
                    "annotations": {
                        "summary": f"{slo.name}: error budget burning "
                        f"{'fast (page)' if fast else 'slowly (ticket)'}",
                        "description": f"SLO: {slo.summary}. Error ratio over the long window: "
                        "{{ $value | humanizePercentage }}.",
                        "runbook": "docs/operations.md#slo-burn-rate-alerts",
                    },
                }
            )
    return rules


def rule_file() -> dict:
    return {
        # One group: its rules run in order, so each alert reads the ratios recorded in the
        # same evaluation (two groups would race, and the alerts would lag a cycle).
        "groups": [{"name": "vanity-slo", "rules": recording_rules() + alert_rules()}]
    }
