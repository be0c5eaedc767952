"""Races on MariaDB, through checkout's REST API with the real inventory and payments services
(each on its own MariaDB database, called over gRPC; cart, catalog and identity are fakes):

- N shoppers check out the last M < N units at once: exactly M orders are confirmed, the rest
  fail `out_of_stock`, and payments holds no money for them (no payment row at all: the stock
  is reserved before the card is touched).
- The same Idempotency-Key sent 20 times at once: one order, one authorization.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from types import SimpleNamespace

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select
from vanity_checkout.app import create_app as checkout_app
from vanity_checkout.ports import CheckoutPorts
from vanity_checkout.settings import CheckoutSettings
from vanity_checkout.tables import orders as orders_table
from vanity_common.grpc_client import ChannelPool
from vanity_common.migrations import migrate
from vanity_common.testing import _mariadb_server, _pymysql_connect, require_mariadb

from .saga_fakes import VISA, FakeCart, FakeCatalog, FakeIdentity

pytestmark = pytest.mark.mariadb

PRICES = {"LAST-1": 999, "LIP-1": 1299}
ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


@pytest.fixture
def databases():
    """Three throwaway MariaDB databases: inventory, payments, checkout."""
    require_mariadb()
    names = {
        s: f"vt_{s[:4]}_{uuid.uuid4().hex[:12]}" for s in ("inventory", "payments", "checkout")
    }
    conn = _pymysql_connect()
    try:
        with conn.cursor() as cur:
            for name in names.values():
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield {s: f"{_mariadb_server()}/{n}" for s, n in names.items()}
    finally:
        with conn.cursor() as cur:
            for name in names.values():
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


class Shop:
    pass


@pytest.fixture
async def shop(databases, tmp_path, token_minter):
    from vanity_inventory.app import create_app as inventory_app
    from vanity_inventory.settings import InventorySettings
    from vanity_payments.app import create_app as payments_app
    from vanity_payments.settings import PaymentsSettings

    for service, url in databases.items():
        await migrate(f"vanity_{service}", url)
    common = {
        "keys_dir": token_minter.keys_dir,
        "grpc_port": 0,
        "data_dir": tmp_path,
        "ended_sessions_refresh_seconds": 0,
        "access_log": False,
        "log_level": "WARNING",
    }
    async with AsyncExitStack() as stack:
        inventory = inventory_app(
            InventorySettings(database_url=databases["inventory"], db_pool_size=20, **common)
        )
        payments = payments_app(
            PaymentsSettings(
                database_url=databases["payments"], env="test", db_pool_size=20, **common
            ),
            checkout=SimpleNamespace(order=_none, report_payment_outcome=_none),
            run_relay=False,
        )
        for app in (inventory, payments):
            await stack.enter_async_context(LifespanManager(app))
        settings = CheckoutSettings(
            database_url=databases["checkout"],
            inventory_grpc_target=f"127.0.0.1:{inventory.state.grpc_port}",
            payments_grpc_target=f"127.0.0.1:{payments.state.grpc_port}",
            db_pool_size=20,
            **common,
        )
        channels = ChannelPool.from_settings(settings)
        stack.push_async_callback(channels.close)
        real = CheckoutPorts.over_grpc(channels, settings)
        cart = FakeCart()
        ports = SimpleNamespace(
            inventory=real.inventory,
            payments=real.payments,
            catalog=FakeCatalog(PRICES),
            identity=FakeIdentity(),
            cart=cart,
        )
        checkout = checkout_app(settings, ports=ports, task_sender=_Discard())
        await stack.enter_async_context(LifespanManager(checkout))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=checkout), base_url="http://checkout", timeout=60
            )
        )
        s = Shop()
        s.inventory = inventory.state.container.inventory
        s.payments = payments.state.container.payments
        s.checkout = checkout.state.container
        s.client, s.cart, s.minter = client, cart, token_minter
        yield s


async def _none(*_args, **_kwargs):
    return None


class _Discard:
    async def deliver(self, message) -> None:
        return None


async def _post(shop, user: str, key: str):
    headers = {
        **shop.minter.headers(shop.minter.token(user_id=user)),
        "Idempotency-Key": key,
    }
    return await shop.client.post(
        "/api/v1/checkout",
        json={"payment_method": VISA, "shipping_address": ADDRESS},
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
