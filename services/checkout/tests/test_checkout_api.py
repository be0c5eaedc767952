"""Checkout's REST and gRPC entry points over the saga, with the five other services faked
in-process (`saga_fakes`): placing an order (201 / 202 / Idempotency-Key), bad input (422 naming
the field), own orders (cursor pages, another user's order is a 404), the admin API (403 for a
customer; refund, ship, cancel), payments' asynchronous outcome over real gRPC, and the order
e-mail relayed from the outbox and sent once per message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import message_from_bytes

import grpc
import httpx
import pytest
from asgi_lifespan import LifespanManager
from vanity.checkout.v1 import checkout_pb2, checkout_pb2_grpc
from vanity_checkout.app import create_app
from vanity_checkout.ports import PaymentStatus
from vanity_checkout.saga import ORDER_EMAIL_TASK
from vanity_checkout.settings import CheckoutSettings
from vanity_common.migrations import migrate
from vanity_testkit import FakeClock

from .saga_fakes import ADDRESS_JSON, DECLINED, THREE_D_SECURE, VISA, FakeShop

STOCK = {"LIP-1": 10, "EYE-2": 5}
PRICES = {"LIP-1": 1299, "EYE-2": 2450}


class RecordingSender:
    """Stands in for the Celery broker: the outbox relay hands it the e-mail task messages."""

    def __init__(self) -> None:
        self.messages = []

    async def deliver(self, message) -> None:
        self.messages.append(message)


class Rig:
    def __init__(self, app, client, shop, minter, sender, mailbox) -> None:
        self.app, self.client, self.shop = app, client, shop
        self.minter, self.sender, self.mailbox = minter, sender, mailbox

    @property
    def container(self):
        return self.app.state.container

    def user(self, user_id: str = "alice") -> dict:
        return self.minter.headers(self.minter.token(user_id=user_id))

    def admin(self, perms=("orders",)) -> dict:
        return self.minter.headers(self.minter.admin(perms=perms))

    async def checkout(self, key: str, *, user="alice", method=VISA, **body):
        payload = {"payment_method": method, **body}
        if "shipping_address_id" not in body:
            payload.setdefault("shipping_address", ADDRESS_JSON)
        headers = {**self.user(user), "Idempotency-Key": key}
        return await self.client.post("/api/v1/checkout", json=payload, headers=headers)


async def _rig(url, tmp_path, token_minter, **settings_overrides):
    await migrate("vanity_checkout", url)
    clock = FakeClock(datetime.now(UTC))
    shop = FakeShop.create(clock, STOCK, PRICES)
    for user in ("alice", "bob"):
        shop.cart.put(user, {"LIP-1": 2, "EYE-2": 1})
    sender = RecordingSender()
    settings = CheckoutSettings(
        database_url=url,
        keys_dir=token_minter.keys_dir,
        data_dir=tmp_path,
        grpc_port=0,
        ended_sessions_refresh_seconds=0,
        **settings_overrides,
    )
    app = create_app(settings, ports=shop, clock=clock, task_sender=sender)
    return app, shop, sender, settings.mailbox


@pytest.fixture
async def rig(database_url, tmp_path, token_minter):
    app, shop, sender, mailbox = await _rig(database_url, tmp_path, token_minter)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://checkout") as client:
            yield Rig(app, client, shop, token_minter, sender, mailbox)


def _field_names(response: httpx.Response) -> set[str]:
    body = response.json()
    return {e.get("field") for e in body.get("errors", [])}


# ---------------------------------------------------------------------------- placing


async def test_checkout_confirms_and_a_retry_replays_the_same_order(rig):
    first = await rig.checkout("k-1")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "confirmed"
    assert body["total"] == {"amount_minor": 2 * 1299 + 2450, "currency": "EUR"}
    assert {line["sku"]: line["quantity"] for line in body["lines"]} == {"LIP-1": 2, "EYE-2": 1}
    assert body["payment"]["status"] == "captured"
    assert body["failure_reason"] is None
    assert rig.shop.inventory.available("LIP-1") == 8
    # The answer is the order as stored (the run's last commit, not a second read).
    stored = await rig.client.get(f"/api/v1/orders/{body['order_id']}", headers=rig.user())
    assert stored.json() == body

    again = await rig.checkout("k-1")
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["order_id"] == body["order_id"]
    assert rig.shop.payments.count("charge") == 1

    other_body = await rig.checkout("k-1", method="pm_card_mastercard")
    assert other_body.status_code == 422
    assert other_body.json()["reason"] == "IDEMPOTENCY_KEY_REUSED"


async def test_a_declined_card_fails_the_order_and_gives_the_stock_back(rig):
    response = await rig.checkout("k-decline", method=DECLINED)
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["failure_reason"]) == ("failed", "payment_declined")
    assert rig.shop.inventory.available("LIP-1") == 10
    assert rig.shop.cart.carts["alice"].locked_by is None


async def test_a_saga_slower_than_the_deadline_answers_202_pending(
    database_url, tmp_path, token_minter
):
    app, shop, _sender, _mailbox = await _rig(
        database_url, tmp_path, token_minter, response_deadline_seconds=0.05
    )
    gate = shop.payments.hold_next("charge")
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://checkout") as client:
            rig = Rig(app, client, shop, token_minter, _sender, _mailbox)
            response = await rig.checkout("k-slow")
            assert response.status_code == 202
            assert response.json()["status"] == "pending"
            order_id = response.json()["order_id"]
            assert response.headers["Location"] == f"/api/v1/orders/{order_id}"
            gate.set()
            # The run goes on in the background: wait for it, then poll as a client would.
            await asyncio.gather(*app.state.container.saga._background)
            polled = await client.get(f"/api/v1/orders/{order_id}", headers=rig.user())
            assert polled.json()["status"] == "confirmed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shipping_address": ADDRESS_JSON}, "payment_method"),
        ({"payment_method": VISA}, "shipping_address_id"),
        (
            {"payment_method": VISA, "shipping_address": ADDRESS_JSON, "shipping_address_id": "a1"},
            "shipping_address_id",
        ),
        (
            {"payment_method": VISA, "shipping_address": {**ADDRESS_JSON, "country": "France"}},
            "country",
        ),
        ({"payment_method": VISA, "shipping_address": {**ADDRESS_JSON, "city": ""}}, "city"),
        ({"payment_method": "", "shipping_address": ADDRESS_JSON}, "payment_method"),
        ({"payment_method": VISA, "shipping_address": ADDRESS_JSON, "price": 1}, "price"),
        (
            {"payment_method": VISA, "shipping_address": ADDRESS_JSON, "expected_total_minor": -1},
            "expected_total_minor",
        ),
    ],
)
async def test_bad_checkout_input_is_a_422_naming_the_field_and_writes_nothing(rig, body, field):
    headers = {**rig.user(), "Idempotency-Key": "k-bad"}
    response = await rig.client.post("/api/v1/checkout", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in (name or "") for name in _field_names(response)), response.json()
    listed = await rig.client.get("/api/v1/orders", headers=rig.user())
    assert listed.json()["items"] == []
    assert rig.shop.cart.count("lock") == 0


async def test_checkout_without_a_key_or_a_token_is_refused(rig):
    no_key = await rig.client.post(
        "/api/v1/checkout",
        json={"payment_method": VISA, "shipping_address": ADDRESS_JSON},
        headers=rig.user(),
    )
    assert no_key.status_code == 400
    assert no_key.json()["reason"] == "IDEMPOTENCY_KEY_REQUIRED"
    anonymous = await rig.client.post(
        "/api/v1/checkout",
        json={"payment_method": VISA, "shipping_address": ADDRESS_JSON},
        headers={"Idempotency-Key": "k-anon"},
    )
    assert anonymous.status_code == 401


async def test_a_saved_address_is_fetched_from_identity(rig):
    rig.shop.identity.add_address("alice", "addr-1")
    response = await rig.checkout("k-addr", shipping_address_id="addr-1")
    assert response.json()["status"] == "confirmed"
    assert response.json()["shipping_address"]["city"] == "Paris"
    unknown = await rig.checkout("k-addr-2", user="bob", shipping_address_id="addr-1")
    assert (unknown.json()["status"], unknown.json()["failure_reason"]) == (
        "failed",
        "address_not_found",
    )


# ------------------------------------------------------------------ 3-D Secure over gRPC


async def test_3ds_waits_then_payments_outcome_over_grpc_confirms_once(rig):
    response = await rig.checkout("k-3ds", method=THREE_D_SECURE)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "awaiting_payment"
    assert body["payment"]["client_secret"]
    order_id = body["order_id"]

    rig.shop.payments.complete_authentication(order_id)
    port = rig.app.state.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = checkout_pb2_grpc.CheckoutServiceStub(channel)
        request = checkout_pb2.ReportPaymentOutcomeRequest(
            order_id=order_id,
            payment_id=body["payment"]["id"],
            outcome=checkout_pb2.PAYMENT_OUTCOME_SUCCEEDED,
            provider_event_id="evt_1",
        )
        answers = [await stub.ReportPaymentOutcome(request) for _ in range(3)]
        assert {a.status for a in answers} == {checkout_pb2.ORDER_STATUS_CONFIRMED}
        fetched = await stub.GetOrder(checkout_pb2.GetOrderRequest(order_id=order_id))
        assert fetched.status == checkout_pb2.ORDER_STATUS_CONFIRMED
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetOrder(checkout_pb2.GetOrderRequest(order_id="nope"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.ReportPaymentOutcome(
                checkout_pb2.ReportPaymentOutcomeRequest(order_id=order_id)
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (payment,) = rig.shop.payments.for_order(order_id)
    assert payment.status is PaymentStatus.CAPTURED
    assert rig.shop.payments.count("capture") == 1


# ------------------------------------------------------------------------- own orders


async def test_own_orders_are_paged_newest_first_and_others_are_404(rig):
    ids = []
    for n in range(3):
        rig.shop.cart.put("alice", {"LIP-1": 1})
        ids.append((await rig.checkout(f"k-page-{n}")).json()["order_id"])
        rig.shop.clock.advance(1)
    bob_order = (await rig.checkout("k-bob", user="bob")).json()["order_id"]

    first = (await rig.client.get("/api/v1/orders?limit=2", headers=rig.user())).json()
    assert [o["order_id"] for o in first["items"]] == ids[::-1][:2]
    second = (
        await rig.client.get(
            "/api/v1/orders",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=rig.user(),
        )
    ).json()
    assert [o["order_id"] for o in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None

    bad_cursor = await rig.client.get("/api/v1/orders?cursor=xyz", headers=rig.user())
    assert bad_cursor.status_code == 422
    assert "cursor" in _field_names(bad_cursor)

    for path in (f"/api/v1/orders/{bob_order}", "/api/v1/orders/unknown"):
        assert (await rig.client.get(path, headers=rig.user())).status_code == 404
    stolen = await rig.client.post(f"/api/v1/orders/{bob_order}/cancel", headers=rig.user())
    assert stolen.status_code == 404
    bob_view = await rig.client.get(f"/api/v1/orders/{bob_order}", headers=rig.user("bob"))
    assert bob_view.json()["status"] == "confirmed"


async def test_the_customer_cancels_a_confirmed_order(rig):
    order_id = (await rig.checkout("k-cancel")).json()["order_id"]
    response = await rig.client.post(f"/api/v1/orders/{order_id}/cancel", headers=rig.user())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    (payment,) = rig.shop.payments.for_order(order_id)
    assert payment.status is PaymentStatus.REFUNDED
    again = await rig.client.post(f"/api/v1/orders/{order_id}/cancel", headers=rig.user())
    assert again.json()["status"] == "cancelled"
    # The stock comes back through the outbox (inventory's Restock: the web process relays it
    # right after the commit; drain() waits for it), once even if redelivered.
    await rig.container.outbox.drain()
    assert rig.shop.inventory.restocked == {order_id}
    assert rig.shop.inventory.available("LIP-1") == 10
    await rig.shop.inventory.restock(order_id, "redelivered")
    assert rig.shop.inventory.available("LIP-1") == 10


# ------------------------------------------------------------------------------ admin


async def test_admin_routes_need_the_orders_permission(rig):
    for method, path in (
        ("GET", "/api/v1/admin/orders"),
        ("GET", "/api/v1/admin/orders/x"),
        ("POST", "/api/v1/admin/orders/x/cancel"),
    ):
        as_customer = await rig.client.request(method, path, headers=rig.user())
        assert as_customer.status_code == 403, path
        wrong_perm = await rig.client.request(method, path, headers=rig.admin(perms=("catalog",)))
        assert wrong_perm.status_code == 403, path


async def test_admin_lists_inspects_refunds_ships_and_cancels(rig):
    paid = (await rig.checkout("k-a1")).json()["order_id"]
    failed = (await rig.checkout("k-a2", user="bob", method=DECLINED)).json()["order_id"]
    admin = rig.admin()

    only_failed = await rig.client.get("/api/v1/admin/orders?status=failed", headers=admin)
    assert [o["order_id"] for o in only_failed.json()["items"]] == [failed]
    by_user = await rig.client.get("/api/v1/admin/orders?user_id=alice", headers=admin)
    assert [o["order_id"] for o in by_user.json()["items"]] == [paid]
    bad_status = await rig.client.get("/api/v1/admin/orders?status=lost", headers=admin)
    assert bad_status.status_code == 422 and "status" in _field_names(bad_status)
    bad_range = await rig.client.get(
        "/api/v1/admin/orders",
        params={"created_from": "2030-01-01T00:00:00Z", "created_to": "2020-01-01T00:00:00Z"},
        headers=admin,
    )
    assert bad_range.status_code == 422 and "created_to" in _field_names(bad_range)

    detail = (await rig.client.get(f"/api/v1/admin/orders/{paid}", headers=admin)).json()
    assert detail["saga"]["state"] == "completed"
    events = [e["event"] for e in detail["timeline"]]
    assert events[0] == "saga_started" and len(events) > 5
    assert detail["payment_record"]["status"] == "captured"

    no_key = await rig.client.post(f"/api/v1/admin/orders/{paid}/refund", headers=admin)
    assert no_key.status_code == 400
    too_much = await rig.client.post(
        f"/api/v1/admin/orders/{paid}/refund",
        json={"amount_minor": 10**9},
        headers={**admin, "Idempotency-Key": "r-0"},
    )
    assert too_much.status_code == 422 and "amount_minor" in _field_names(too_much)
    partial = await rig.client.post(
        f"/api/v1/admin/orders/{paid}/refund",
        json={"amount_minor": 500},
        headers={**admin, "Idempotency-Key": "r-1"},
    )
    assert partial.status_code == 200, partial.text
    assert partial.json()["status"] == "partially_refunded"
    assert partial.json()["refunded"]["amount_minor"] == 500
    replay = await rig.client.post(
        f"/api/v1/admin/orders/{paid}/refund",
        json={"amount_minor": 500},
        headers={**admin, "Idempotency-Key": "r-1"},
    )
    assert replay.json()["refunded"]["amount_minor"] == 500

    no_tracking = await rig.client.post(
        f"/api/v1/admin/orders/{paid}/ship", json={"tracking_number": ""}, headers=admin
    )
    assert no_tracking.status_code == 422 and "tracking_number" in _field_names(no_tracking)
    shipped = await rig.client.post(
        f"/api/v1/admin/orders/{paid}/ship",
        json={"tracking_number": "1Z999", "carrier": "UPS"},
        headers=admin,
    )
    assert shipped.json()["status"] == "shipped"
    assert shipped.json()["tracking"] == {"tracking_number": "1Z999", "carrier": "UPS"}
    late_cancel = await rig.client.post(f"/api/v1/admin/orders/{paid}/cancel", headers=admin)
    assert late_cancel.status_code == 409 or late_cancel.status_code == 400
    assert late_cancel.json()["reason"] == "ORDER_NOT_CANCELLABLE"

    rest = await rig.client.post(
        f"/api/v1/admin/orders/{paid}/refund", headers={**admin, "Idempotency-Key": "r-2"}
    )
    assert rest.json()["status"] == "refunded"
    assert rest.json()["refunded"]["amount_minor"] == rest.json()["total"]["amount_minor"]


# ---------------------------------------------------------------------------- e-mails


async def test_the_confirmation_email_is_relayed_from_the_outbox_and_sent_once(rig):
    order_id = (await rig.checkout("k-mail")).json()["order_id"]
    await rig.container.outbox.drain()
    (message,) = [m for m in rig.sender.messages if m.topic == ORDER_EMAIL_TASK]
    kwargs = message.payload["kwargs"]
    assert (kwargs["order_id"], kwargs["kind"]) == (order_id, "confirmed")

    for _ in range(2):  # a redelivered task message
        await rig.container.emails.send(message.id, **kwargs)
    files = list(rig.mailbox.glob("*.eml"))
    assert len(files) == 1
    mail = message_from_bytes(files[0].read_bytes())
    assert mail["To"] == "alice@example.com"
    assert "confirmed" in mail["Subject"]
    assert order_id in mail.get_payload()
