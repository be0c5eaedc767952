"""Inventory's own Prometheus metrics (the chassis adds HTTP/gRPC/DB pool metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RESERVATIONS = Counter(
    "vanity_inventory_reservations_total",
    "Reserve calls by outcome",
    ["outcome"],  # reserved, replayed, insufficient, unknown_sku, mismatch
)
COMMITS = Counter(
    "vanity_inventory_commits_total",
    "Commit calls by outcome",
    ["outcome"],  # committed, reservation_expired, reservation_released, ...
)
EXPIRED = Counter("vanity_inventory_reservations_expired_total", "Reservations expired")
ADJUSTMENTS = Counter("vanity_inventory_adjustments_total", "Admin stock changes by kind", ["kind"])
TX_RETRIES = Counter(
    "vanity_inventory_tx_retries_total", "Write transactions re-run after a deadlock/lock timeout"
)
LOW_STOCK_NOTIFICATIONS = Counter(
    "vanity_inventory_low_stock_notifications_total", "Low-stock notifications sent to admins"
)
LEDGER_DRIFT_SKUS = Gauge(
    "vanity_inventory_ledger_drift_skus",
    "SKUs whose balances disagree with the ledger (or with active reservations) at the last audit",
)
AUDIT_RUNS = Counter("vanity_inventory_audit_runs_total", "Ledger audits by result", ["result"])
