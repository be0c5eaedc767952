"""The checkout saga's Prometheus metrics (the chassis adds HTTP/gRPC/DB pool metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SAGAS_STARTED = Counter("vanity_checkout_sagas_started_total", "Orders placed (sagas started)")
STEP_DURATION = Histogram(
    "vanity_checkout_saga_step_duration_seconds",
    "One saga step: its remote call (if any); the last step of a chain also the chain's commit",
    ["step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SAGA_TRANSITIONS = Counter(
    "vanity_checkout_saga_transitions_total",
    "Saga transitions committed",
    ["transition", "to_state"],
)
SAGAS_ENDED = Counter(
    "vanity_checkout_sagas_ended_total",
    "Sagas that reached an end: completed, or failed with the order's failure reason",
    ["state", "reason"],
)
STEP_RETRIES = Counter(
    "vanity_checkout_saga_step_retries_total",
    "Saga steps deferred after a transient failure or an unknown outcome",
    ["step"],
)
RECOVERED = Counter("vanity_checkout_saga_recovered_total", "Sagas claimed by the recovery sweep")
LOST_LEASES = Counter(
    "vanity_checkout_saga_lost_leases_total",
    "Step commits refused because the run's lease had passed to another run",
)
PLACE_DURATION = Histogram(
    "vanity_checkout_place_order_seconds",
    "From the request to the saga's first stop (completed, failed, waiting or deferred)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
# Set by the recovery sweep (a Celery worker: in multiprocess mode the latest value wins).
IN_FLIGHT = Gauge(
    "vanity_checkout_sagas_in_flight",
    "Active sagas by state (running, waiting for 3-D Secure, compensating), read from the table",
    ["state"],
    multiprocess_mode="mostrecent",
)
OLDEST_IN_FLIGHT = Gauge(
    "vanity_checkout_saga_oldest_in_flight_seconds",
    "Age of the oldest active saga (0 when none is active)",
    multiprocess_mode="mostrecent",
)
