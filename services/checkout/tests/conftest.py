"""Fixtures for the checkout saga tests: a migrated database, a controllable clock, and the
in-process fakes of the five services the saga drives (`saga_fakes`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from vanity_checkout.domain import ShippingAddress
from vanity_checkout.saga import CheckoutSaga, PlaceOrder, SagaSettings
from vanity_common.db import Database
from vanity_common.migrations import migrate
from vanity_testkit import FakeClock

from .saga_fakes import VISA, FakeShop

STOCK = {"LIP-1": 10, "EYE-2": 5, "LAST-1": 1}
PRICES = {"LIP-1": 1299, "EYE-2": 2450, "LAST-1": 999}
ADDRESS = ShippingAddress("Ada Lovelace", "1 Main St", "Paris", "75001", "FR")
SETTINGS = SagaSettings(
    reservation_ttl_seconds=900,
    payment_wait_margin_seconds=60,
    lease_seconds=30,
    retry_base_seconds=1,
    retry_max_seconds=60,
    max_forward_attempts=4,
)


def place(user_id: str = "alice", key: str = "key-1", method: str = VISA, **kw) -> PlaceOrder:
    if "shipping_address_id" not in kw:
        kw.setdefault("shipping_address", ADDRESS)
    return PlaceOrder(user_id=user_id, idempotency_key=key, payment_method=method, **kw)


@pytest.fixture
def shop(clock) -> FakeShop:
    shop = FakeShop.create(clock, STOCK, PRICES)
    shop.cart.put("alice", {"LIP-1": 2, "EYE-2": 1})
    return shop


async def open_checkout(url: str, shop: FakeShop, clock, *, worker_id: str = "w1", pool_size=10):
    db = Database(url, pool_size=pool_size)
    return CheckoutSaga(db, shop, clock=clock, settings=SETTINGS, worker_id=worker_id)


@pytest.fixture
async def checkout(sqlite_url, shop, clock) -> AsyncIterator[CheckoutSaga]:
    """On SQLite: the saga's logic. Concurrency and the SQL that matters run on MariaDB too."""
    await migrate("vanity_checkout", sqlite_url)
    saga = await open_checkout(sqlite_url, shop, clock)
    yield saga
    await saga.db.dispose()


@pytest.fixture
async def any_checkout(database_url, shop, clock) -> AsyncIterator[CheckoutSaga]:
    await migrate("vanity_checkout", database_url)
    saga = await open_checkout(database_url, shop, clock)
    yield saga
    await saga.db.dispose()


async def settle(saga: CheckoutSaga, clock: FakeClock, *, rounds: int = 20, step: float = 61):
    """Runs recovery with a later clock until nothing is left to claim (a crashed run's lease
    expires; retries come due). Answers how many sagas it claimed in all."""
    claimed = 0
    for _ in range(rounds):
        clock.advance(step)
        n = await saga.recover_expired_leases()
        claimed += n
        record_states = await active_sagas(saga)
        if not record_states:
            return claimed
    raise AssertionError(f"sagas still active after {rounds} rounds: {await active_sagas(saga)}")


async def active_sagas(saga: CheckoutSaga) -> list[tuple[str, str, str]]:
    from sqlalchemy import select
    from vanity_checkout.tables import sagas

    async with saga.db.connect() as conn:
        rows = await conn.execute(
            select(sagas.c.order_id, sagas.c.state, sagas.c.step).where(
                sagas.c.state.in_(["running", "waiting", "compensating"])
            )
        )
        return [tuple(r) for r in rows]
