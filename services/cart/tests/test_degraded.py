"""Catalog or inventory down (connection cut through the chassis' TCP proxy) or too slow:
reads still answer with the lines flagged, writes that need the dependency fail fast with 503,
and writes that do not need it still work. One round trip to each dependency per read."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgi_lifespan import LifespanManager
from vanity_cart.service import Shopper

from .conftest import start

CART = "/api/v1/cart"
ITEMS = "/api/v1/cart/items"


@pytest.fixture
async def alice(running, token_minter):
    running.shop.product("LIP-RED", 1299, 20)
    running.shop.product("MASCARA", 2450, 2)
    headers = token_minter.headers(token_minter.token("alice"))
    for sku, quantity in [("LIP-RED", 2), ("MASCARA", 1)]:
        added = await running.client.post(
            ITEMS, json={"sku": sku, "quantity": quantity}, headers=headers
        )
        assert added.status_code == 200, added.text
        running.clock.advance(seconds=1)
    return headers


def unavailable(response):
    assert response.status_code == 503, response.text
    assert response.json()["reason"] == "DEPENDENCY_UNAVAILABLE"
    assert response.headers["retry-after"] == "1"


async def test_a_read_is_one_call_to_each_dependency(running, alice):
    running.shop.catalog_calls.clear()
    running.shop.inventory_calls.clear()
    body = (await running.client.get(CART, headers=alice)).json()
    assert all(line["live"] for line in body["lines"]) and body["degraded"] == []
    assert running.shop.catalog_calls == [["LIP-RED", "MASCARA"]]
    assert running.shop.inventory_calls == [["LIP-RED", "MASCARA"]]
    await running.client.post(ITEMS, json={"sku": "LIP-RED"}, headers=alice)
    assert len(running.shop.catalog_calls) == 2 and len(running.shop.inventory_calls) == 2


async def test_catalog_down(running, alice):
    client = running.client
    await running.deps.catalog.cut()
    read = await client.get(CART, headers=alice)
    assert read.status_code == 200
    body = read.json()
    assert body["degraded"] == ["catalog"] and body["subtotal"] is None
    red = body["lines"][0]
    assert (red["sku"], red["quantity"], red["live"]) == ("LIP-RED", 2, False)
    assert red["unit_price"] is None and red["name"] is None and red["on_sale"] is None
    assert red["availability"]["state"] == "in_stock"  # inventory still answered
    assert body["item_count"] == 3 and body["version"] == 2

    unavailable(await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=alice))
    unavailable(await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 5}, headers=alice))
    # lowering, removing and emptying need no live data
    lowered = await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 1}, headers=alice)
    assert lowered.status_code == 200 and lowered.json()["lines"][0]["quantity"] == 1
    removed = await client.delete(f"{ITEMS}/MASCARA", headers=alice)
    assert [ln["sku"] for ln in removed.json()["lines"]] == ["LIP-RED"]

    await running.deps.catalog.restore()
    for _ in range(200):  # the channel reconnects on its own backoff schedule
        body = (await client.get(CART, headers=alice)).json()
        if not body["degraded"]:
            break
        await asyncio.sleep(0.05)
    assert body["degraded"] == [] and body["lines"][0]["live"] is True


async def test_inventory_down(running, alice):
    client = running.client
    await running.deps.inventory.cut()
    body = (await client.get(CART, headers=alice)).json()
    assert body["degraded"] == ["inventory"]
    red = body["lines"][0]
    assert red["unit_price"] == {"amount_minor": 1299, "currency": "EUR"}
    assert red["availability"] is None and red["live"] is False
    assert body["subtotal"] == {"amount_minor": 2 * 1299 + 2450, "currency": "EUR"}
    unavailable(await client.post(ITEMS, json={"sku": "MASCARA"}, headers=alice))
    cleared = await client.delete(CART, headers=alice)
    assert cleared.status_code == 200 and cleared.json()["lines"] == []


async def test_both_down(running, alice):
    await running.deps.catalog.cut()
    await running.deps.inventory.cut()
    body = (await running.client.get(CART, headers=alice)).json()
    assert body["degraded"] == ["catalog", "inventory"]
    assert [(ln["sku"], ln["quantity"], ln["live"]) for ln in body["lines"]] == [
        ("LIP-RED", 2, False),
        ("MASCARA", 1, False),
    ]


async def test_a_dependency_too_slow_is_cut_off_by_the_deadline(
    database_url, tmp_path, token_minter, dependencies, clock
):
    shop = dependencies.shop
    shop.product("LIP-RED", 1299, 20)
    app = await start(
        database_url, tmp_path, token_minter, dependencies, clock, dependency_timeout_s=0.5
    )
    async with LifespanManager(app):
        await app.state.container.cart.add_item(Shopper(user_id="alice"), "LIP-RED", 1)
        shop.delay_s = 30.0  # far beyond the deadline: only the deadline can end these calls
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cart")
        async with client:
            alice = token_minter.headers(token_minter.token("alice"))
            read = await client.get(CART, headers=alice)
            assert read.status_code == 200
            assert read.json()["degraded"] == ["catalog", "inventory"]
            unavailable(await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=alice))
