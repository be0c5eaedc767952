"""CartService over a real gRPC server: checkout's view of the cart (priced lines in one call)
and the lock: idempotent per checkout id, refusing other checkouts and empty carts."""

from __future__ import annotations

import grpc
import pytest
from vanity.cart.v1 import cart_pb2 as pb
from vanity.cart.v1 import cart_pb2_grpc as pb_grpc
from vanity_common.errors import grpc_reason

ITEMS = "/api/v1/cart/items"


@pytest.fixture
async def stub(running):
    async with grpc.aio.insecure_channel(running.grpc_target) as channel:
        yield pb_grpc.CartServiceStub(channel)


@pytest.fixture
async def alice(running, token_minter):
    running.shop.product("LIP-RED", 1299, 20, name="Velvet Lipstick", variant_name="Ruby Woo")
    running.shop.product("MASCARA", 2450, 2)
    headers = token_minter.headers(token_minter.token("alice"))
    for sku, quantity in [("LIP-RED", 2), ("MASCARA", 1)]:
        await running.client.post(ITEMS, json={"sku": sku, "quantity": quantity}, headers=headers)
        running.clock.advance(seconds=1)
    return headers


async def fails(call, code, reason=None):
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await call
    assert failure.value.code() == code, failure.value.details()
    if reason:
        assert grpc_reason(failure.value) == reason
    return failure.value


async def test_get_cart_gives_checkout_the_priced_lines(stub, alice):
    cart = await stub.GetCart(pb.GetCartRequest(user_id="alice"))
    assert (cart.user_id, cart.version, cart.item_count, cart.locked_by) == ("alice", 2, 3, "")
    red = cart.lines[0]
    assert (red.sku, red.quantity, red.priced, red.on_sale) == ("LIP-RED", 2, True, True)
    assert (red.product_name, red.variant_name) == ("Velvet Lipstick", "Ruby Woo")
    assert (red.unit_price.amount_minor, red.line_total.amount_minor) == (1299, 2598)
    assert red.unit_price.currency == "EUR"
    assert red.stock_known and red.stock_state == pb.STOCK_STATE_IN_STOCK
    assert cart.lines[1].stock_state == pb.STOCK_STATE_LOW and cart.lines[1].buyable_quantity == 2
    assert cart.subtotal.amount_minor == 2 * 1299 + 2450 and list(cart.degraded) == []
    nobody = await stub.GetCart(pb.GetCartRequest(user_id="nobody"))
    assert list(nobody.lines) == [] and nobody.version == 0
    await fails(stub.GetCart(pb.GetCartRequest()), grpc.StatusCode.INVALID_ARGUMENT)


async def test_get_cart_with_catalog_down_says_so(running, stub, alice):
    await running.deps.catalog.cut()
    cart = await stub.GetCart(pb.GetCartRequest(user_id="alice"))
    assert list(cart.degraded) == ["catalog"]
    assert [(ln.sku, ln.quantity, ln.priced, ln.stock_known) for ln in cart.lines] == [
        ("LIP-RED", 2, False, True),
        ("MASCARA", 1, False, True),
    ]
    assert not cart.HasField("subtotal")


async def test_lock_unlock_and_clear_are_idempotent_per_checkout(running, stub, alice):
    client = running.client
    locked = await stub.LockCart(pb.LockCartRequest(user_id="alice", checkout_id="order-1"))
    assert locked.locked_by == "order-1" and locked.lines[0].priced
    again = await stub.LockCart(pb.LockCartRequest(user_id="alice", checkout_id="order-1"))
    assert again.locked_by == "order-1" and again.version == locked.version
    await fails(
        stub.LockCart(pb.LockCartRequest(user_id="alice", checkout_id="order-2")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CART_LOCKED",
    )
    blocked = await client.post(ITEMS, json={"sku": "LIP-RED"}, headers=alice)
    assert blocked.status_code == 409 and blocked.json()["reason"] == "CART_LOCKED"

    # another checkout's unlock changes nothing; the holder's does, once
    other = await stub.UnlockCart(pb.UnlockCartRequest(user_id="alice", checkout_id="order-2"))
    assert other.locked_by == "order-1"
    unlocked = await stub.UnlockCart(pb.UnlockCartRequest(user_id="alice", checkout_id="order-1"))
    assert unlocked.locked_by == "" and unlocked.version == locked.version
    # compensations answer quantities only: they never wait on catalog or inventory
    assert [(ln.sku, ln.quantity, ln.priced) for ln in unlocked.lines] == [
        ("LIP-RED", 2, False),
        ("MASCARA", 1, False),
    ]
    assert list(unlocked.degraded) == []
    assert (
        await stub.UnlockCart(pb.UnlockCartRequest(user_id="alice", checkout_id="order-1"))
    ).locked_by == ""

    await stub.LockCart(pb.LockCartRequest(user_id="alice", checkout_id="order-3"))
    cleared = await stub.ClearCart(pb.ClearCartRequest(user_id="alice", checkout_id="order-3"))
    assert list(cleared.lines) == [] and cleared.locked_by == ""
    assert cleared.version == locked.version + 1
    replay = await stub.ClearCart(pb.ClearCartRequest(user_id="alice", checkout_id="order-3"))
    assert replay.version == cleared.version
    # what the shopper adds after the order is never thrown away by a late or foreign clear
    await client.post(ITEMS, json={"sku": "MASCARA"}, headers=alice)
    late = await stub.ClearCart(pb.ClearCartRequest(user_id="alice", checkout_id="order-3"))
    foreign = await stub.ClearCart(pb.ClearCartRequest(user_id="alice", checkout_id="order-9"))
    assert [ln.sku for ln in late.lines] == [ln.sku for ln in foreign.lines] == ["MASCARA"]


async def test_lock_refuses_an_empty_cart_and_bad_input(running, stub, alice):
    await fails(
        stub.LockCart(pb.LockCartRequest(user_id="bob", checkout_id="order-1")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CART_EMPTY",
    )
    await running.client.delete("/api/v1/cart", headers=alice)
    await fails(
        stub.LockCart(pb.LockCartRequest(user_id="alice", checkout_id="order-1")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "CART_EMPTY",
    )
    for request in [
        pb.LockCartRequest(user_id="alice"),
        pb.LockCartRequest(checkout_id="order-1"),
        pb.LockCartRequest(user_id="alice", checkout_id="x" * 65),
    ]:
        await fails(stub.LockCart(request), grpc.StatusCode.INVALID_ARGUMENT)
    await fails(
        stub.UnlockCart(pb.UnlockCartRequest(user_id="alice")), grpc.StatusCode.INVALID_ARGUMENT
    )
    await fails(
        stub.ClearCart(pb.ClearCartRequest(checkout_id="o")), grpc.StatusCode.INVALID_ARGUMENT
    )
