"""Orders are private: own orders only, no token → 401, another user's order → 404."""

from datetime import UTC, datetime

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import insert
from vanity_checkout.app import create_app
from vanity_checkout.settings import CheckoutSettings
from vanity_checkout.tables import order_items, orders
from vanity_common.db import Database
from vanity_common.migrations import migrate


@pytest.fixture
async def client(database_url, tmp_path, token_minter):
    await migrate("vanity_checkout", database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        await session.execute(
            insert(orders),
            [
                {
                    "id": "order-alice",
                    "user_id": "alice",
                    "status": "confirmed",
                    "idempotency_key": "k1",
                    "total_minor": 2598,
                    "currency": "EUR",
                    "created_at": now,
                    "updated_at": now,
                },
                {
                    "id": "order-bob",
                    "user_id": "bob",
                    "status": "pending",
                    "idempotency_key": "k1",
                    "total_minor": 999,
                    "currency": "EUR",
                    "created_at": now,
                    "updated_at": now,
                },
            ],
        )
        await session.execute(
            insert(order_items),
            [
                {
                    "order_id": "order-alice",
                    "sku": "LIP-1",
                    "name": "Lipstick",
                    "quantity": 2,
                    "unit_price_minor": 1299,
                    "currency": "EUR",
                }
            ],
        )
    await db.dispose()
    app = create_app(
        CheckoutSettings(
            database_url=database_url,
            data_dir=tmp_path,
            keys_dir=token_minter.keys_dir,
            grpc_enabled=False,
        )
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://checkout") as c,
    ):
        yield c


async def test_owner_reads_own_order_with_lines(client, token_minter):
    alice = token_minter.headers(token_minter.token("alice"))
    response = await client.get("/api/v1/orders/order-alice", headers=alice)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == {"amount_minor": 2598, "currency": "EUR"}
    assert body["lines"][0]["sku"] == "LIP-1"
    listed = await client.get("/api/v1/orders", headers=alice)
    assert [o["id"] for o in listed.json()["items"]] == ["order-alice"]


async def test_another_users_order_is_not_found(client, token_minter):
    alice = token_minter.headers(token_minter.token("alice"))
    response = await client.get("/api/v1/orders/order-bob", headers=alice)
    assert response.status_code == 404
    assert response.json()["reason"] == "ORDER_NOT_FOUND"


async def test_no_token_is_401(client):
    response = await client.get("/api/v1/orders")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_forged_and_expired_tokens_are_401(client, token_minter, tmp_path):
    from vanity_testkit import TokenMinter

    stranger = TokenMinter(tmp_path / "other-keys")  # a key the service does not trust
    forged = token_minter.headers(stranger.token("alice"))
    assert (await client.get("/api/v1/orders", headers=forged)).status_code == 401
    expired = token_minter.headers(token_minter.token("alice", ttl=-60))
    response = await client.get("/api/v1/orders", headers=expired)
    assert response.status_code == 401
    assert response.json()["detail"] == "Access token expired."


async def test_limit_is_validated(client, token_minter):
    alice = token_minter.headers(token_minter.token("alice"))
    response = await client.get("/api/v1/orders", params={"limit": 1000}, headers=alice)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"
