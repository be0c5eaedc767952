"""Concurrency on MariaDB (real row locks, real parallel connections): concurrent adds to one
line never lose an update, the stock cap holds under a race, a merge happens once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from vanity_cart.service import Shopper
from vanity_common.errors import ServiceError

from .conftest import Shop, make_container

pytestmark = pytest.mark.mariadb


@pytest.fixture
async def container(mariadb_url, tmp_path, clock):
    shop = Shop()
    made = await make_container(
        mariadb_url, tmp_path, clock, shop, pool_size=40, max_quantity_per_line=1000
    )
    made.shop = shop
    yield made
    await made.aclose()


async def test_concurrent_adds_to_one_line_never_lose_an_update(container):
    container.shop.product("LIP-RED", 1299, 10_000)
    cart = container.cart
    shopper = Shopper(user_id="alice")  # no cart yet: the first adds also race to create it
    results = await asyncio.gather(
        *(cart.add_item(shopper, "LIP-RED", 1) for _ in range(40)), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    view = await cart.get_cart(shopper)
    assert [(ln.sku, ln.quantity) for ln in view.lines] == [("LIP-RED", 40)]
    assert view.version == 40
    async with container.db.connect() as conn:
        carts = (await conn.execute(text("SELECT count(*) FROM carts"))).scalar_one()
    assert carts == 1


async def test_concurrent_adds_never_pass_the_stock(container):
    container.shop.product("LIP-RED", 1299, 5)
    shopper = Shopper(user_id="alice")
    results = await asyncio.gather(
        *(container.cart.add_item(shopper, "LIP-RED", 1) for _ in range(20)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(refused) == 15 and {r.reason for r in refused} == {"NOT_ENOUGH_STOCK"}
    view = await container.cart.get_cart(shopper)
    assert [ln.quantity for ln in view.lines] == [5] and view.version == 5


async def test_a_guest_cart_merges_once_however_many_requests_race(container):
    container.shop.product("LIP-RED", 1299, 100)
    container.shop.product("MASCARA", 2450, 100)
    cart = container.cart
    guest = await cart.add_item(Shopper(), "LIP-RED", 3)
    await cart.add_item(Shopper(guest_token=guest.cart_token), "MASCARA", 2)
    await cart.add_item(Shopper(user_id="alice"), "LIP-RED", 1)
    signed_in = Shopper(user_id="alice", guest_token=guest.cart_token)
    views = await asyncio.gather(*(cart.get_cart(signed_in) for _ in range(12)))
    assert sum(v.merged for v in views) == 1
    final = await cart.get_cart(Shopper(user_id="alice"))
    assert sorted((ln.sku, ln.quantity) for ln in final.lines) == [("LIP-RED", 4), ("MASCARA", 2)]
    assert final.version == 2  # one add, one merge


async def test_writes_racing_a_lock_either_land_before_it_or_are_refused(container):
    container.shop.product("LIP-RED", 1299, 10_000)
    cart = container.cart
    alice = Shopper(user_id="alice")
    await cart.add_item(alice, "LIP-RED", 1)

    async def add():
        try:
            await cart.add_item(alice, "LIP-RED", 1)
            return "added"
        except ServiceError as exc:
            return exc.reason

    outcomes = await asyncio.gather(
        *(add() for _ in range(15)),
        cart.lock_for_checkout("alice", "order-1"),
        *(add() for _ in range(15)),
    )
    adds = [o for o in outcomes if isinstance(o, str)]
    locked_view = next(o for o in outcomes if not isinstance(o, str))
    assert set(adds) <= {"added", "CART_LOCKED"}
    final = await cart.get_user_cart("alice")
    # the lock froze the lines: what checkout saw is what stays
    assert final.lines[0].quantity == locked_view.lines[0].quantity == 1 + adds.count("added")


async def test_racing_new_lines_never_pass_the_line_maximum(mariadb_url, tmp_path, clock):
    shop = Shop()
    for i in range(10):
        shop.product(f"SKU-{i}", 100, 50)
    made = await make_container(mariadb_url, tmp_path, clock, shop, pool_size=20, max_lines=3)
    try:
        guest = await made.cart.add_item(Shopper(), "SKU-0", 1)
        shopper = Shopper(guest_token=guest.cart_token)
        results = await asyncio.gather(
            *(made.cart.add_item(shopper, f"SKU-{i}", 1) for i in range(1, 10)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, ServiceError)]
        assert len(refused) == 7 and {r.reason for r in refused} == {"CART_FULL"}
        assert len((await made.cart.get_cart(shopper)).lines) == 3
    finally:
        await made.aclose()
