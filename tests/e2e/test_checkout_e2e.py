"""Checkout end to end through the gateway against the running suite (real processes: the six
services, the gateway, the Celery worker with beat): browse, cart, checkout; a declined card;
3-D Secure completed and abandoned; cancel and admin refund; orders are private.

The suite's checkout runs with a short reservation TTL (tests/e2e/conftest.py:
CHECKOUT_RESERVATION_TTL_SECONDS) so an abandoned 3-D Secure payment times out within a test.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from vanity_testkit.tokens import mint_token

pytestmark = pytest.mark.e2e

VISA = "pm_card_visa"
DECLINED = "pm_card_visa_chargeDeclined"
THREE_D_SECURE = "pm_card_authenticationRequired"
ADDRESS = {
    "label": "Home",
    "full_name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


class Shopper:
    def __init__(self, client: httpx.AsyncClient, email: str, auth: dict[str, str]) -> None:
        self.client, self.email, self.auth = client, email, auth

    async def add_to_cart(self, sku: str, quantity: int) -> None:
        added = await self.client.post(
            "/api/v1/cart/items", json={"sku": sku, "quantity": quantity}, headers=self.auth
        )
        assert added.status_code in (200, 201), added.text

    async def cart(self) -> dict:
        response = await self.client.get("/api/v1/cart", headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()

    async def address_id(self) -> str:
        created = await self.client.post("/api/v1/me/addresses", json=ADDRESS, headers=self.auth)
        assert created.status_code == 201, created.text
        return created.json()["id"]

    async def checkout(self, method: str, key: str | None = None) -> httpx.Response:
        return await self.client.post(
            "/api/v1/checkout",
            json={"shipping_address_id": await self.address_id(), "payment_method": method},
            headers={**self.auth, "Idempotency-Key": key or uuid.uuid4().hex},
        )

    async def order(self, order_id: str) -> httpx.Response:
        return await self.client.get(f"/api/v1/orders/{order_id}", headers=self.auth)

    async def wait_for(self, order_id: str, statuses: set[str], timeout: float = 60) -> dict:
        """Polls as a client would, for an asynchronous effect (a webhook, the beat sweep)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            body = (await self.order(order_id)).json()
            if body["status"] in statuses:
                return body
            if loop.time() > deadline:
                pytest.fail(f"order {order_id} still {body['status']} after {timeout} s")
            await asyncio.sleep(0.5)


async def new_shopper(client: httpx.AsyncClient) -> Shopper:
    email = f"e2e-co-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct horse battery staple 42"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "name": "E2E Buyer", "password": password}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return Shopper(client, email, {"Authorization": f"Bearer {login.json()['access_token']}"})


def admin_headers(suite) -> dict[str, str]:
    token = mint_token(suite.layout.data_dir / "keys", sub="admin-e2e-orders", admin=True)
    return {"Authorization": f"Bearer {token}"}


async def stock(gateway: httpx.AsyncClient, suite, sku: str) -> dict:
    response = await gateway.get(f"/api/v1/admin/stock/{sku}", headers=admin_headers(suite))
    assert response.status_code == 200, response.text
    return response.json()


_used_skus: set[str] = set()


async def a_sku_in_stock(gateway: httpx.AsyncClient, suite, at_least: int = 5) -> str:
    """A SKU no other test here has bought from (stock counts stay this test's own)."""
    products = (await gateway.get("/api/v1/products", params={"limit": 50})).json()["items"]
    for product in products:
        detail = (await gateway.get(f"/api/v1/products/{product['slug']}")).json()
        for variant in detail["variants"]:
            sku = variant["sku"]
            if sku in _used_skus:
                continue
            if (await stock(gateway, suite, sku))["available"] >= at_least:
                _used_skus.add(sku)
                return sku
    pytest.fail("no SKU with stock in the demo catalog")


async def wait_for_mail(suite, *needles: str, timeout: float = 30) -> str:
    mail_dir = suite.layout.data_dir / "mail"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for path in mail_dir.glob("*.eml"):
            text = path.read_text(errors="replace")
            if all(n in text for n in needles):
                return text
        await asyncio.sleep(0.3)  # bounded wait for the worker, not for luck
    pytest.fail(f"no e-mail with {needles} in {mail_dir} within {timeout} s")


async def test_visa_checkout_confirms_lowers_stock_clears_the_cart_and_emails(
    suite, gateway, client_at
):
    shopper = await new_shopper(client_at())
    sku = await a_sku_in_stock(gateway, suite)
    before = await stock(gateway, suite, sku)
    await shopper.add_to_cart(sku, 2)

    response = await shopper.checkout(VISA, key="visa-1")
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "confirmed", order
    assert order["payment"]["status"] == "captured"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [(sku, 2)]
    assert order["total"]["amount_minor"] == 2 * order["lines"][0]["unit_price"]["amount_minor"]

    after = await stock(gateway, suite, sku)
    assert after["on_hand"] == before["on_hand"] - 2
    assert after["reserved"] == before["reserved"]
    assert (await shopper.cart())["lines"] == []

    replay = await shopper.client.post(
        "/api/v1/checkout",
        json={"shipping_address_id": "ignored", "payment_method": VISA},
        headers={**shopper.auth, "Idempotency-Key": "visa-1"},
    )
    assert replay.status_code == 422  # same key, another body
    listed = (await shopper.client.get("/api/v1/orders", headers=shopper.auth)).json()
    assert [o["order_id"] for o in listed["items"]] == [order["order_id"]]

    mail = await wait_for_mail(suite, shopper.email, order["order_id"])
    assert "confirmed" in mail


async def test_a_declined_card_fails_gives_the_stock_back_and_keeps_the_cart(
    suite, gateway, client_at
):
    shopper = await new_shopper(client_at())
    sku = await a_sku_in_stock(gateway, suite)
    before = await stock(gateway, suite, sku)
    await shopper.add_to_cart(sku, 1)

    response = await shopper.checkout(DECLINED)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["failure_reason"]) == ("failed", "payment_declined")
    after = await stock(gateway, suite, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
    cart = await shopper.cart()
    assert cart["locked"] is False
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [(sku, 1)]
    await shopper.add_to_cart(sku, 1)  # unlocked: the shopper can carry on


async def test_3ds_completed_confirms(suite, gateway, client_at):
    shopper = await new_shopper(client_at())
    sku = await a_sku_in_stock(gateway, suite)
    await shopper.add_to_cart(sku, 1)
    response = await shopper.checkout(THREE_D_SECURE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "awaiting_payment"
    secret = body["payment"]["client_secret"]
    assert secret

    # What Stripe.js does in the browser: payments' development route (not behind the gateway).
    payments = f"http://127.0.0.1:{suite.layout.http('payments')}"
    async with httpx.AsyncClient(base_url=payments, timeout=10) as direct:
        done = await direct.post(
            f"/api/v1/payments/dev/{body['payment']['id']}/authenticate",
            json={"client_secret": secret, "success": True},
        )
    assert done.status_code == 202, done.text
    confirmed = await shopper.wait_for(body["order_id"], {"confirmed", "failed"})
    assert confirmed["status"] == "confirmed", confirmed
    assert confirmed["payment"]["status"] == "captured"


async def test_3ds_abandoned_times_out_and_gives_the_stock_back(suite, gateway, client_at):
    shopper = await new_shopper(client_at())
    sku = await a_sku_in_stock(gateway, suite)
    before = await stock(gateway, suite, sku)
    await shopper.add_to_cart(sku, 1)
    body = (await shopper.checkout(THREE_D_SECURE)).json()
    assert body["status"] == "awaiting_payment"
    held = await stock(gateway, suite, sku)
    assert held["reserved"] == before["reserved"] + 1

    failed = await shopper.wait_for(body["order_id"], {"failed", "confirmed"}, timeout=90)
    assert (failed["status"], failed["failure_reason"]) == ("failed", "payment_timeout")
    after = await stock(gateway, suite, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
    # payments records an abandoned 3-D Secure payment it cancelled as voided or failed: no money moved
    assert failed["payment"]["status"] in ("voided", "failed")


async def test_cancel_and_admin_refund(suite, gateway, client_at):
    shopper = await new_shopper(client_at())
    sku = await a_sku_in_stock(gateway, suite)
    await shopper.add_to_cart(sku, 1)
    first = (await shopper.checkout(VISA)).json()
    assert first["status"] == "confirmed"
    cancelled = await shopper.client.post(
        f"/api/v1/orders/{first['order_id']}/cancel", headers=shopper.auth
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["payment"]["status"] == "refunded"

    await shopper.add_to_cart(sku, 2)
    second = (await shopper.checkout(VISA)).json()
    assert second["status"] == "confirmed"
    admin = admin_headers(suite)
    total = second["total"]["amount_minor"]
    partial = await gateway.post(
        f"/api/v1/admin/orders/{second['order_id']}/refund",
        json={"amount_minor": 100},
        headers={**admin, "Idempotency-Key": "refund-1"},
    )
    assert partial.status_code == 200, partial.text
    assert partial.json()["status"] == "partially_refunded"
    rest = await gateway.post(
        f"/api/v1/admin/orders/{second['order_id']}/refund",
        headers={**admin, "Idempotency-Key": "refund-2"},
    )
    assert rest.json()["status"] == "refunded"
    assert rest.json()["refunded"]["amount_minor"] == total
    detail = (await gateway.get(f"/api/v1/admin/orders/{second['order_id']}", headers=admin)).json()
    assert detail["payment_record"]["status"] == "refunded"
    assert detail["timeline"][0]["event"] == "saga_started"
    listed = await gateway.get(
        "/api/v1/admin/orders", params={"status": "refunded", "limit": 100}, headers=admin
    )
    assert second["order_id"] in [o["order_id"] for o in listed.json()["items"]]


async def test_orders_are_private(suite, gateway, client_at):
    owner = await new_shopper(client_at())
    sku = await a_sku_in_stock(gateway, suite)
    await owner.add_to_cart(sku, 1)
    order_id = (await owner.checkout(VISA)).json()["order_id"]

    intruder = await new_shopper(client_at())
    assert (await intruder.order(order_id)).status_code == 404
    cancel = await intruder.client.post(f"/api/v1/orders/{order_id}/cancel", headers=intruder.auth)
    assert cancel.status_code == 404
    assert (await owner.order(order_id)).json()["status"] == "confirmed"
    own_list = (await intruder.client.get("/api/v1/orders", headers=intruder.auth)).json()
    assert own_list["items"] == []
    as_customer = await intruder.client.get("/api/v1/admin/orders", headers=intruder.auth)
    assert as_customer.status_code == 403
