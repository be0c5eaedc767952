"""Races on MariaDB, through checkout's REST API with the real inventory and payments services
(each on its own MariaDB database, called over gRPC; cart, catalog and identity are fakes):

- N shoppers check out the last M < N units at once: exactly M orders are confirmed, the rest
  fail `out_of_stock`, and payments holds no money for them (no payment row at all: the stock
  is reserved before the card is touched).
- The same Idempotency-Key sent 20 times at once: one order, one authorization.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import func, select
from vanity_checkout.tables import orders as orders_table
from vanity_testkit import require_mariadb, scratch_databases

from .real_services import start_real_services
from .saga_fakes import ADDRESS_JSON, VISA, FakeCart, FakeCatalog, FakeIdentity

pytestmark = pytest.mark.mariadb

PRICES = {"LAST-1": 999, "LIP-1": 1299}


class Shop:
    pass


@pytest.fixture
async def shop(tmp_path, token_minter):
    """Checkout over the real inventory and payments, each on a throwaway MariaDB database."""
    require_mariadb()
    cart = FakeCart()
    fakes = {"catalog": FakeCatalog(PRICES), "identity": FakeIdentity(), "cart": cart}
    with scratch_databases(["inventory", "payments", "checkout"]) as urls:
        async with AsyncExitStack() as stack:
            services = await start_real_services(
                stack,
                urls,
                keys_dir=token_minter.keys_dir,
                data_dir=tmp_path,
                fakes=fakes,
                pool_size=20,
            )
            s = Shop()
            s.inventory = services.inventory.state.container.inventory
            s.payments = services.payments.state.container.payments
            s.checkout = services.checkout.state.container
            s.client, s.cart, s.minter = services.client, cart, token_minter
            yield s


async def _post(shop, user: str, key: str):
    headers = {
        **shop.minter.headers(shop.minter.token(user_id=user)),
        "Idempotency-Key": key,
    }
    return await shop.client.post(
        "/api/v1/checkout",
        json={"payment_method": VISA, "shipping_address": ADDRESS_JSON},
        headers=headers,
    )


async def _payments_for(shop, order_id: str):
    from vanity_payments import repository as payments_repo

    page = await shop.payments.list_payments(
        limit=50, filters=payments_repo.PaymentFilter(order_id=order_id)
    )
    return [row.payment for row in page.items]


async def test_n_buyers_for_the_last_m_units(shop):
    buyers, units = 8, 3
    await shop.inventory.set_stock("LAST-1", units, "race test", actor="test")
    for n in range(buyers):
        shop.cart.put(f"buyer-{n}", {"LAST-1": 1})

    answers = await asyncio.gather(*(_post(shop, f"buyer-{n}", f"k-{n}") for n in range(buyers)))
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    bodies = [a.json() for a in answers]
    confirmed = [b for b in bodies if b["status"] == "confirmed"]
    failed = [b for b in bodies if b["status"] == "failed"]
    assert len(confirmed) == units
    assert len(failed) == buyers - units
    assert {b["failure_reason"] for b in failed} == {"out_of_stock"}

    for body in confirmed:
        (payment,) = await _payments_for(shop, body["order_id"])
        assert (payment.status.value, payment.captured_minor) == ("captured", 999)
    for body in failed:
        assert all(p.captured_minor == 0 for p in await _payments_for(shop, body["order_id"]))
        assert await _payments_for(shop, body["order_id"]) == []
    stock = await shop.inventory.get_stock("LAST-1")
    assert (stock.on_hand, stock.reserved) == (0, 0)
    assert (await shop.inventory.audit()).drift == []


async def test_the_same_key_twenty_times_at_once_is_one_order_and_one_authorization(shop):
    await shop.inventory.set_stock("LIP-1", 100, "race test", actor="test")
    shop.cart.put("alice", {"LIP-1": 1})

    answers = await asyncio.gather(*(_post(shop, "alice", "same-key") for _ in range(20)))
    codes = [a.status_code for a in answers]
    # The first runs; a duplicate arriving meanwhile is 409 (retry later), later ones replay it.
    assert set(codes) <= {201, 409}, [a.text for a in answers]
    order_ids = {a.json()["order_id"] for a in answers if a.status_code == 201}
    assert len(order_ids) == 1
    (order_id,) = order_ids

    async with shop.checkout.db.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(orders_table))).scalar_one()
    assert count == 1
    (payment,) = await _payments_for(shop, order_id)
    assert payment.status.value == "captured"
    replay = await _post(shop, "alice", "same-key")
    assert replay.json()["order_id"] == order_id
    assert len(await _payments_for(shop, order_id)) == 1
