"""Abandoned guest carts expire (merged ones too); users' carts never do. The baseline's user
carts survive the migration to cart ids."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from vanity_cart.service import Shopper
from vanity_cart.worker import beat_schedule
from vanity_common.migrations import downgrade, ensure_database, upgrade

from .conftest import Shop, make_container


async def test_abandoned_guest_carts_expire(database_url, tmp_path, clock):
    shop = Shop()
    shop.product("LIP-RED", 1299, 50)
    container = await make_container(database_url, tmp_path, clock, shop, guest_cart_ttl_days=30)
    cart = container.cart
    try:
        old_guest = await cart.add_item(Shopper(), "LIP-RED", 1)
        merged_guest = await cart.add_item(Shopper(), "LIP-RED", 2)
        await cart.add_item(Shopper(user_id="alice"), "LIP-RED", 1)
        await cart.get_cart(Shopper(user_id="alice", guest_token=merged_guest.cart_token))
        clock.advance(days=20)
        touched = await cart.add_item(Shopper(), "LIP-RED", 1)
        clock.advance(days=10, seconds=1)
        await cart.add_item(Shopper(guest_token=touched.cart_token), "LIP-RED", 1)

        assert await cart.expire_guest_carts(batch=1) == 2  # the old and the merged guest carts
        assert await cart.expire_guest_carts() == 0
        gone = await cart.get_cart(Shopper(guest_token=old_guest.cart_token))
        assert gone.lines == () and gone.cart_token is None
        kept = await cart.get_cart(Shopper(guest_token=touched.cart_token))
        assert [ln.quantity for ln in kept.lines] == [2]
        alice = await cart.get_cart(Shopper(user_id="alice"))
        assert [ln.quantity for ln in alice.lines] == [3]
        async with container.db.connect() as conn:
            lines = (await conn.execute(text("SELECT count(*) FROM cart_lines"))).scalar_one()
        assert lines == 2  # no orphan lines left behind
    finally:
        await container.aclose()


def test_the_beat_runs_the_expiry():
    from vanity_cart.settings import CartSettings

    schedule = beat_schedule(CartSettings(guest_expiry_interval_s=60))
    assert schedule["cart-expire-guest-carts"] == {
        "task": "cart.expire_guest_carts",
        "schedule": 60,
    }


async def test_baseline_carts_survive_the_migration(database_url):
    await ensure_database(database_url)
    await asyncio.to_thread(upgrade, "vanity_cart", database_url, "0001")
    engine = create_async_engine(database_url)
    now = datetime(2026, 1, 1, 12, 0)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO carts (user_id, version, locked_by, updated_at)"
                    " VALUES ('alice', 3, NULL, :now), ('bob', 1, 'order-9', :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO cart_items (user_id, sku, quantity, added_at)"
                    " VALUES ('alice', 'LIP-RED', 2, :now), ('bob', 'MASCARA', 1, :now)"
                ),
                {"now": now},
            )
        await asyncio.to_thread(upgrade, "vanity_cart", database_url, "0002")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT c.user_id, c.version, c.locked_by, l.sku, l.quantity FROM carts c"
                        " JOIN cart_lines l ON l.cart_id = c.id ORDER BY c.user_id"
                    )
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("alice", 3, None, "LIP-RED", 2),
            ("bob", 1, "order-9", "MASCARA", 1),
        ]
        await asyncio.to_thread(downgrade, "vanity_cart", database_url, "0001")
        async with engine.connect() as conn:
            back = (
                await conn.execute(
                    text(
                        "SELECT c.user_id, i.sku, i.quantity FROM carts c"
                        " JOIN cart_items i ON i.user_id = c.user_id ORDER BY c.user_id"
                    )
                )
            ).all()
        assert [tuple(r) for r in back] == [("alice", "LIP-RED", 2), ("bob", "MASCARA", 1)]
    finally:
        await engine.dispose()
