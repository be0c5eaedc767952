"""Cart's own Prometheus metrics (the chassis adds HTTP/gRPC/DB pool metrics)."""

from __future__ import annotations

from prometheus_client import Counter

DEGRADED_VIEWS = Counter(
    "vanity_cart_degraded_views_total",
    "Cart views answered without a dependency's live data",
    ["dependency"],  # catalog, inventory
)
MERGES = Counter(
    "vanity_cart_merges_total",
    "Guest carts offered for a merge at sign-in, by outcome",
    ["outcome"],  # merged, none (stale or already merged), deferred (user cart locked)
)
GUEST_CARTS_EXPIRED = Counter("vanity_cart_guest_carts_expired_total", "Guest carts deleted")
TX_RETRIES = Counter(
    "vanity_cart_tx_retries_total", "Write transactions re-run after a deadlock/lock timeout"
)
