"""The public REST API through the real app: guests and users, every route's happy path and bad
input, optimistic versions, the checkout lock, merge at sign-in, and no access to other carts."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

CART = "/api/v1/cart"
ITEMS = "/api/v1/cart/items"


@pytest.fixture
def shop(running):
    running.shop.product("LIP-RED", 1299, 20, name="Velvet Lipstick", variant_name="Ruby Woo")
    running.shop.product("LIP-PINK", 1099, 2)
    running.shop.product("MASCARA", 2450, 50)
    running.shop.product("SERUM", 4500, 0)
    running.shop.product("DRAFT-1", 999, 10, active=False)
    return running.shop


def problem(response, status, reason=None, field=None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    if reason:
        assert body["reason"] == reason, body
    if field:
        assert field in [e["field"] for e in body.get("errors", [])], body
    return body


async def test_guest_cart_from_first_item_to_empty(running, shop):
    client = running.client
    empty = await client.get(CART)
    assert empty.status_code == 200
    assert empty.json()["lines"] == [] and empty.json()["cart_token"] is None
    assert "x-cart-token" not in empty.headers and empty.headers["etag"] == '"0"'

    added = await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 2})
    assert added.status_code == 200, added.text
    token = added.headers["x-cart-token"]
    body = added.json()
    assert body["cart_token"] == token and len(token) >= 40
    assert added.headers["etag"] == '"1"' and body["version"] == 1
    assert body["lines"] == [
        {
            "sku": "LIP-RED",
            "name": "Velvet Lipstick",
            "brand": "Vanity",
            "variant_name": "Ruby Woo",
            "product_slug": "product-lip-red",
            "image_url": "https://img.example/LIP-RED.jpg",
            "quantity": 2,
            "unit_price": {"amount_minor": 1299, "currency": "EUR"},
            "line_total": {"amount_minor": 2598, "currency": "EUR"},
            "on_sale": True,
            "availability": {"state": "in_stock", "buyable_quantity": 10, "short": False},
            "live": True,
        }
    ]
    assert body["subtotal"] == {"amount_minor": 2598, "currency": "EUR"}
    assert (body["item_count"], body["line_count"], body["locked"]) == (2, 1, False)

    guest = {"X-Cart-Token": token}
    more = await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 1}, headers=guest)
    assert more.json()["lines"][0]["quantity"] == 3 and more.headers["x-cart-token"] == token
    running.clock.advance(seconds=1)  # lines are listed in the order they were added
    await client.post(ITEMS, json={"sku": "LIP-PINK"}, headers=guest)
    read = (await client.get(CART, headers=guest)).json()
    assert [(ln["sku"], ln["quantity"]) for ln in read["lines"]] == [
        ("LIP-RED", 3),
        ("LIP-PINK", 1),
    ]
    assert read["lines"][1]["availability"] == {
        "state": "low",
        "buyable_quantity": 2,
        "short": False,
    }
    assert read["subtotal"]["amount_minor"] == 3 * 1299 + 1099 and read["version"] == 3

    patched = await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 5}, headers=guest)
    assert patched.status_code == 200 and patched.json()["lines"][0]["quantity"] == 5
    removed_by_zero = await client.patch(f"{ITEMS}/LIP-PINK", json={"quantity": 0}, headers=guest)
    assert [ln["sku"] for ln in removed_by_zero.json()["lines"]] == ["LIP-RED"]
    deleted = await client.delete(f"{ITEMS}/LIP-RED", headers=guest)
    assert deleted.json()["lines"] == [] and deleted.json()["version"] == 6
    again = await client.delete(f"{ITEMS}/LIP-RED", headers=guest)  # idempotent, no new version
    assert again.status_code == 200 and again.json()["version"] == 6

    await client.post(ITEMS, json={"sku": "MASCARA", "quantity": 2}, headers=guest)
    cleared = await client.delete(CART, headers=guest)
    assert cleared.status_code == 200 and cleared.json()["lines"] == []
    assert cleared.headers["x-cart-token"] == token


async def test_add_refuses_bad_input_naming_the_field_and_writes_nothing(running, shop):
    client = running.client
    first = await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 1})
    guest = {"X-Cart-Token": first.headers["x-cart-token"]}
    cases = [
        ({"quantity": 1}, 422, "VALIDATION_FAILED", "sku"),
        ({"sku": "", "quantity": 1}, 422, "VALIDATION_FAILED", "sku"),
        ({"sku": "X" * 65, "quantity": 1}, 422, "VALIDATION_FAILED", "sku"),
        ({"sku": "LIP\x00RED", "quantity": 1}, 422, "VALIDATION_FAILED", "sku"),
        ({"sku": "LIP-RED", "quantity": 0}, 422, "VALIDATION_FAILED", "quantity"),
        ({"sku": "LIP-RED", "quantity": -3}, 422, "VALIDATION_FAILED", "quantity"),
        ({"sku": "LIP-RED", "quantity": 11}, 422, "VALIDATION_FAILED", "quantity"),
        ({"sku": "LIP-RED", "quantity": 10}, 422, "VALIDATION_FAILED", "quantity"),  # 1 + 10
        ({"sku": "LIP-RED", "quantity": 10**30}, 422, "VALIDATION_FAILED", "quantity"),
        ({"sku": "LIP-RED", "quantity": "2"}, 422, "VALIDATION_FAILED", "quantity"),
        ({"sku": "LIP-RED", "quantity": 1.5}, 422, "VALIDATION_FAILED", "quantity"),
        ({"sku": "LIP-RED", "quantity": True}, 422, "VALIDATION_FAILED", "quantity"),
        ({"sku": "LIP-RED", "quantity": 1, "price": 1}, 422, "VALIDATION_FAILED", "price"),
        ({"sku": "NOPE", "quantity": 1}, 422, "UNKNOWN_SKU", "sku"),
        ({"sku": "DRAFT-1", "quantity": 1}, 422, "NOT_ON_SALE", "sku"),
    ]
    for body, status, reason, field in cases:
        problem(await client.post(ITEMS, json=body, headers=guest), status, reason, field)
    problem(await client.post(ITEMS, content=b"{", headers=guest), 422)
    after = (await client.get(CART, headers=guest)).json()
    assert [(ln["sku"], ln["quantity"]) for ln in after["lines"]] == [("LIP-RED", 1)]
    assert after["version"] == 1


async def test_more_than_can_be_bought_is_a_409_giving_the_quantity(running, shop):
    client = running.client
    out = problem(await client.post(ITEMS, json={"sku": "SERUM"}), 409, "NOT_ENOUGH_STOCK")
    assert (out["available_quantity"], out["quantity_in_cart"], out["sku"]) == (0, 0, "SERUM")
    first = await client.post(ITEMS, json={"sku": "LIP-PINK", "quantity": 1})
    guest = {"X-Cart-Token": first.headers["x-cart-token"]}
    short = problem(
        await client.post(ITEMS, json={"sku": "LIP-PINK", "quantity": 2}, headers=guest),
        409,
        "NOT_ENOUGH_STOCK",
        "quantity",
    )
    assert (short["available_quantity"], short["quantity_in_cart"]) == (2, 1)
    raised = await client.patch(f"{ITEMS}/LIP-PINK", json={"quantity": 3}, headers=guest)
    assert problem(raised, 409, "NOT_ENOUGH_STOCK")["available_quantity"] == 2
    assert (await client.patch(f"{ITEMS}/LIP-PINK", json={"quantity": 2}, headers=guest)).is_success


async def test_the_cart_holds_a_maximum_of_lines(running, shop):
    client = running.client  # the fixture sets max_lines=3
    token = (await client.post(ITEMS, json={"sku": "LIP-RED"})).headers["x-cart-token"]
    guest = {"X-Cart-Token": token}
    running.shop.product("NAIL-1", 500, 9)
    for sku in ("LIP-PINK", "MASCARA"):
        assert (await client.post(ITEMS, json={"sku": sku}, headers=guest)).is_success
    full = await client.post(ITEMS, json={"sku": "NAIL-1"}, headers=guest)
    problem(full, 422, "CART_FULL", "sku")
    # more of a line already there is still fine
    assert (await client.post(ITEMS, json={"sku": "MASCARA"}, headers=guest)).is_success


async def test_set_and_remove_refuse_bad_input(running, shop):
    client = running.client
    token = (await client.post(ITEMS, json={"sku": "LIP-RED"})).headers["x-cart-token"]
    guest = {"X-Cart-Token": token}
    problem(
        await client.patch(f"{ITEMS}/MASCARA", json={"quantity": 1}, headers=guest),
        404,
        "LINE_NOT_FOUND",
        "sku",
    )
    for body, field in [
        ({"quantity": -1}, "quantity"),
        ({"quantity": 11}, "quantity"),
        ({}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"quantity": 1, "sku": "X"}, "sku"),
    ]:
        response = await client.patch(f"{ITEMS}/LIP-RED", json=body, headers=guest)
        problem(response, 422, "VALIDATION_FAILED", field)
    problem(await client.patch(f"{ITEMS}/{'X' * 65}", json={"quantity": 1}, headers=guest), 422)
    problem(await client.delete(f"{ITEMS}/{'X' * 65}", headers=guest), 422)
    # no cart yet: nothing to set, nothing to remove
    problem(await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 1}), 404, "LINE_NOT_FOUND")
    assert (await client.delete(f"{ITEMS}/LIP-RED")).json()["lines"] == []
    assert (await client.delete(CART)).json()["cart_token"] is None


async def test_a_stale_version_is_412_and_writes_nothing(running, shop, token_minter):
    client = running.client
    alice = token_minter.headers(token_minter.token("alice"))
    v1 = await client.post(ITEMS, json={"sku": "LIP-RED"}, headers={**alice, "If-Match": '"0"'})
    assert v1.status_code == 200 and v1.headers["etag"] == '"1"'
    stale = {**alice, "If-Match": '"0"'}
    for response in [
        await client.post(ITEMS, json={"sku": "MASCARA"}, headers=stale),
        await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 3}, headers=stale),
        await client.delete(f"{ITEMS}/LIP-RED", headers=stale),
        await client.delete(CART, headers=stale),
    ]:
        body = problem(response, 412, "CART_VERSION_MISMATCH")
        assert response.headers["etag"] == '"1"', body
    current = {**alice, "If-Match": v1.headers["etag"]}
    v2 = await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 3}, headers=current)
    assert v2.status_code == 200 and v2.json()["version"] == 2
    weak = await client.post(ITEMS, json={"sku": "MASCARA"}, headers={**alice, "If-Match": 'W/"2"'})
    assert weak.json()["version"] == 3
    anything = await client.delete(f"{ITEMS}/MASCARA", headers={**alice, "If-Match": "*"})
    assert anything.json()["version"] == 4
    problem(
        await client.delete(CART, headers={**alice, "If-Match": "yesterday"}),
        422,
        "VALIDATION_FAILED",
        "If-Match",
    )
    lines = (await client.get(CART, headers=alice)).json()["lines"]
    assert [(ln["sku"], ln["quantity"]) for ln in lines] == [("LIP-RED", 3)]


async def test_a_locked_cart_refuses_every_write(running, shop, token_minter):
    client = running.client
    alice = token_minter.headers(token_minter.token("alice"))
    await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 2}, headers=alice)
    await running.service.lock_for_checkout("alice", "order-1")
    read = (await client.get(CART, headers=alice)).json()
    assert read["locked"] is True and read["version"] == 1
    for response in [
        await client.post(ITEMS, json={"sku": "MASCARA"}, headers=alice),
        await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=alice),
        await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 1}, headers=alice),
        await client.patch(f"{ITEMS}/LIP-RED", json={"quantity": 0}, headers=alice),
        await client.delete(f"{ITEMS}/LIP-RED", headers=alice),
        await client.delete(f"{ITEMS}/MASCARA", headers=alice),
        await client.delete(CART, headers=alice),
    ]:
        body = problem(response, 409, "CART_LOCKED")
        assert "checkout" in body["detail"]
    after = (await client.get(CART, headers=alice)).json()
    assert [(ln["sku"], ln["quantity"]) for ln in after["lines"]] == [("LIP-RED", 2)]
    await running.service.unlock_for_checkout("alice", "order-1")
    assert (await client.delete(CART, headers=alice)).json()["lines"] == []


async def test_sign_in_merges_the_guest_cart_once(running, shop, token_minter):
    client = running.client
    token = (await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 8})).headers[
        "x-cart-token"
    ]
    guest = {"X-Cart-Token": token}
    running.clock.advance(seconds=1)
    await client.post(ITEMS, json={"sku": "LIP-PINK", "quantity": 2}, headers=guest)
    alice = token_minter.headers(token_minter.token("alice"))
    await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 5}, headers=alice)
    running.clock.advance(seconds=1)
    await client.post(ITEMS, json={"sku": "MASCARA", "quantity": 1}, headers=alice)
    running.shop.stock["LIP-PINK"] = 1  # sold meanwhile: the merge caps at what can be bought
    running.clock.advance(seconds=1)

    merged = await client.get(CART, headers={**alice, **guest})
    assert merged.status_code == 200
    body = merged.json()
    # LIP-RED: 5 + 8 capped at the per-line maximum (10); LIP-PINK capped by stock (1)
    assert [(ln["sku"], ln["quantity"]) for ln in body["lines"]] == [
        ("LIP-RED", 10),
        ("MASCARA", 1),
        ("LIP-PINK", 1),
    ]
    assert body["merged"] is True and body["cart_token"] is None
    assert "x-cart-token" not in merged.headers
    version = body["version"]

    again = (await client.get(CART, headers={**alice, **guest})).json()
    assert again["merged"] is False and again["version"] == version
    assert [ln["quantity"] for ln in again["lines"]] == [10, 1, 1]
    # the guest token stopped working: a guest holding it sees no cart and gets a fresh one
    stale = await client.get(CART, headers=guest)
    assert stale.json()["lines"] == [] and stale.json()["cart_token"] is None
    fresh = await client.post(ITEMS, json={"sku": "MASCARA"}, headers=guest)
    assert fresh.headers["x-cart-token"] != token
    assert [ln["sku"] for ln in fresh.json()["lines"]] == ["MASCARA"]
    # another user replaying the merged token gets nothing from it
    bob = token_minter.headers(token_minter.token("bob"))
    assert (await client.get(CART, headers={**bob, **guest})).json()["lines"] == []


async def test_a_merge_into_a_locked_cart_waits_for_the_checkout(running, shop, token_minter):
    client = running.client
    token = (await client.post(ITEMS, json={"sku": "MASCARA", "quantity": 2})).headers[
        "x-cart-token"
    ]
    alice = token_minter.headers(token_minter.token("alice"))
    await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=alice)
    await running.service.lock_for_checkout("alice", "order-7")
    running.clock.advance(seconds=1)
    waiting = await client.get(CART, headers={**alice, "X-Cart-Token": token})
    assert [ln["sku"] for ln in waiting.json()["lines"]] == ["LIP-RED"]
    assert waiting.headers["x-cart-token"] == token  # keep it: the merge has not happened
    await running.service.unlock_for_checkout("alice", "order-7")
    done = (await client.get(CART, headers={**alice, "X-Cart-Token": token})).json()
    assert [(ln["sku"], ln["quantity"]) for ln in done["lines"]] == [("LIP-RED", 1), ("MASCARA", 2)]
    assert done["merged"] is True and done["cart_token"] is None


async def test_no_one_reaches_a_cart_that_is_not_theirs(running, shop, token_minter):
    client = running.client
    alice = token_minter.headers(token_minter.token("alice"))
    bob = token_minter.headers(token_minter.token("bob"))
    await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 2}, headers=alice)
    guest_token = (await client.post(ITEMS, json={"sku": "MASCARA"})).headers["x-cart-token"]

    assert (await client.get(CART, headers=bob)).json()["lines"] == []
    await client.delete(CART, headers=bob)
    await client.delete(f"{ITEMS}/LIP-RED", headers=bob)
    # guessed, forged, oversized and other shapes of token: no cart, never an error
    for forged in ["x" * 43, guest_token[:-1] + ("A" if guest_token[-1] != "A" else "B"), "?" * 50]:
        read = await client.get(CART, headers={"X-Cart-Token": forged})
        assert read.status_code == 200 and read.json()["lines"] == []
        assert (await client.delete(CART, headers={"X-Cart-Token": forged})).json()["lines"] == []
    problem(await client.get(CART, headers={"X-Cart-Token": "y" * 300}), 422)
    # a user's cart has no token: a guest cannot name it
    assert (await client.get(CART, headers={"X-Cart-Token": "alice"})).json()["lines"] == []
    # an invalid bearer token is refused, guest token or not (no fallback to the guest cart)
    bad = {"Authorization": "Bearer not-a-jwt", "X-Cart-Token": guest_token}
    problem(await client.get(CART, headers=bad), 401)
    problem(await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=bad), 401)
    # everything is where it was
    assert [ln["quantity"] for ln in (await client.get(CART, headers=alice)).json()["lines"]] == [2]
    mine = (await client.get(CART, headers={"X-Cart-Token": guest_token})).json()
    assert [ln["sku"] for ln in mine["lines"]] == ["MASCARA"]


async def test_a_refused_first_add_creates_no_cart(running, shop, token_minter):
    alice = token_minter.headers(token_minter.token("alice"))
    for headers in ({}, alice):
        refused = await running.client.post(ITEMS, json={"sku": "NOPE"}, headers=headers)
        problem(refused, 422, "UNKNOWN_SKU", "sku")
        assert "x-cart-token" not in refused.headers
    async with running.service.db.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM carts"))).scalar_one() == 0


async def test_an_add_retried_with_its_idempotency_key_adds_once(running, shop, token_minter):
    client = running.client
    first_try = {"Idempotency-Key": "8e0f5a3c-first-add"}
    created = await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=first_try)
    replay = await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=first_try)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == created.content  # the same cart and token, not a second cart
    guest = {"X-Cart-Token": created.headers["x-cart-token"]}
    key = {**guest, "Idempotency-Key": "8e0f5a3c-second-add"}
    once = await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 2}, headers=key)
    again = await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 2}, headers=key)
    assert once.json()["lines"][0]["quantity"] == again.json()["lines"][0]["quantity"] == 3
    reused = await client.post(ITEMS, json={"sku": "MASCARA"}, headers=key)
    problem(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    assert (await client.get(CART, headers=guest)).json()["item_count"] == 3
    # another shopper's identical key is another key
    alice = {
        **token_minter.headers(token_minter.token("alice")),
        "Idempotency-Key": key["Idempotency-Key"],
    }
    theirs = await client.post(ITEMS, json={"sku": "LIP-RED", "quantity": 2}, headers=alice)
    assert "idempotent-replayed" not in theirs.headers and theirs.json()["item_count"] == 2


async def test_only_a_hash_of_the_guest_token_is_stored(running, shop):
    added = await running.client.post(ITEMS, json={"sku": "LIP-RED"})
    token = added.headers["x-cart-token"]
    async with running.service.db.connect() as conn:
        stored = (await conn.execute(text("SELECT * FROM carts"))).mappings().one()
    assert token not in [str(v) for v in stored.values()]
    assert stored["guest_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert stored["user_id"] is None
