"""The checkout latency SLO (deploy/monitoring/slos.py) reads vanity_checkout_place_order_seconds:
every new order must be timed once, also when POST /api/v1/checkout answers before the saga's
first stop (REST passes `wait_s`, the run goes on in the background and the client polls).
Without that, the SLO would see only in-process callers and stay silent in production.

The saga runs against checkout's own in-process fakes of its five peers (services/checkout/tests).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from prometheus_client import REGISTRY
from vanity_checkout.domain import OrderStatus, ShippingAddress
from vanity_checkout.saga import CheckoutSaga, PlaceOrder
from vanity_common.db import Database
from vanity_common.migrations import migrate
from vanity_testkit import FakeClock

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = ShippingAddress("Ada Lovelace", "1 Main St", "Paris", "75001", "FR")
HISTOGRAM = "vanity_checkout_place_order_seconds"


def _checkout_fakes():
    path = ROOT / "services" / "checkout" / "tests" / "saga_fakes.py"
    spec = importlib.util.spec_from_file_location("ops_checkout_saga_fakes", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed_orders() -> float:
    return REGISTRY.get_sample_value(f"{HISTOGRAM}_count") or 0.0


async def test_every_order_is_timed_once_whether_or_not_it_outlives_its_response(sqlite_url):
    fakes = _checkout_fakes()
    await migrate("vanity_checkout", sqlite_url)
    clock = FakeClock()
    shop = fakes.FakeShop.create(clock, {"LIP-1": 10}, {"LIP-1": 1299})
    db = Database(sqlite_url)
    saga = CheckoutSaga(db, shop, clock=clock, worker_id="ops-test")
    try:
        before = timed_orders()

        # in-process callers wait for the first stop
        shop.cart.put("ada", {"LIP-1": 1})
        order = await saga.place_order(
            PlaceOrder("ada", "k-1", fakes.VISA, shipping_address=ADDRESS)
        )
        assert order.status is OrderStatus.CONFIRMED
        assert timed_orders() == before + 1

        # REST: the answer goes out at once (202, pending); the run finishes in the background
        shop.cart.put("bob", {"LIP-1": 1})
        answered = await saga.place_order(
            PlaceOrder("bob", "k-2", fakes.VISA, shipping_address=ADDRESS), wait_s=0
        )
        assert answered.status is OrderStatus.PENDING
        await saga.aclose()  # lets the background run reach its first stop
        assert (await saga.get_order(answered.id)).status is OrderStatus.CONFIRMED
        assert timed_orders() == before + 2

        # a repeated key answers the existing order: not a new order, not timed again
        await saga.place_order(PlaceOrder("bob", "k-2", fakes.VISA, shipping_address=ADDRESS))
        assert timed_orders() == before + 2
    finally:
        await db.dispose()
