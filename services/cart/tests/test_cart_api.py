"""The cart is the signed-in user's own; gRPC reads the same cart."""

from datetime import UTC, datetime

import grpc
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import insert
from vanity.cart.v1 import cart_pb2, cart_pb2_grpc
from vanity_cart.app import create_app
from vanity_cart.settings import CartSettings
from vanity_cart.tables import cart_items, carts
from vanity_common.db import Database
from vanity_common.migrations import migrate


@pytest.fixture
async def app(database_url, tmp_path, token_minter):
    await migrate("vanity_cart", database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        await session.execute(
            insert(carts), [{"user_id": "alice", "version": 3, "updated_at": now}]
        )
        await session.execute(
            insert(cart_items),
            [{"user_id": "alice", "sku": "LIP-1", "quantity": 2, "added_at": now}],
        )
    await db.dispose()
    app = create_app(
        CartSettings(
            database_url=database_url,
            data_dir=tmp_path,
            keys_dir=token_minter.keys_dir,
            grpc_port=0,
        )
    )
    async with LifespanManager(app):
        yield app


async def test_rest_and_grpc_read_the_same_cart(app, token_minter):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cart") as client:
        alice = token_minter.headers(token_minter.token("alice"))
        body = (await client.get("/api/v1/cart", headers=alice)).json()
        assert body == {
            "lines": [{"sku": "LIP-1", "quantity": 2}],
            "item_count": 2,
            "version": 3,
            "locked": False,
        }
        bob = token_minter.headers(token_minter.token("bob"))
        assert (await client.get("/api/v1/cart", headers=bob)).json()["lines"] == []
        assert (await client.get("/api/v1/cart")).status_code == 401
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.state.grpc_port}") as channel:
        cart = await cart_pb2_grpc.CartServiceStub(channel).GetCart(
            cart_pb2.GetCartRequest(user_id="alice")
        )
        assert [(line.sku, line.quantity) for line in cart.lines] == [("LIP-1", 2)]
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await cart_pb2_grpc.CartServiceStub(channel).GetCart(cart_pb2.GetCartRequest())
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
