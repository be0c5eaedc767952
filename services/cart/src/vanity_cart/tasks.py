"""Celery tasks (thin): each runs one use case on the worker's long-lived event loop."""

from __future__ import annotations

from vanity_common.tasks import bridge, reliable_task

from vanity_cart.bootstrap import CartContainer, build_container
from vanity_cart.settings import load_settings


def container() -> CartContainer:
    """One container per worker process, living on the bridge's event loop."""
    return bridge.resource("cart.container", lambda: build_container(load_settings(), pool_size=4))


@reliable_task("cart.expire_guest_carts")
def expire_guest_carts() -> int:
    """Deletes guest carts untouched for CART_GUEST_CART_TTL_DAYS (idempotent: a rerun finds
    nothing left to delete)."""
    deps = container()
    return bridge.run(deps.cart.expire_guest_carts(deps.settings.guest_expiry_batch))


@reliable_task("cart.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Deletes Idempotency-Key records older than 24 h (beat, hourly)."""
    return bridge.run(container().idempotency.purge_expired())
