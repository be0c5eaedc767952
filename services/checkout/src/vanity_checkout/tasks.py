"""Checkout's Celery tasks (thin): each runs a use case with the worker's container."""

from __future__ import annotations

from vanity_common.tasks import bridge, reliable_task

from vanity_checkout.bootstrap import CheckoutContainer, build_container
from vanity_checkout.settings import load_settings


def container() -> CheckoutContainer:
    """One container per worker process, living on the bridge's event loop: the tasks reach
    the database and, through its ports, the other services over gRPC."""
    return bridge.resource(
        "checkout.container", lambda: build_container(load_settings(), pool_size=4)
    )


@reliable_task("checkout.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Deletes Idempotency-Key records older than 24 h (beat, hourly)."""
    return bridge.run(container().idempotency.purge_expired())
