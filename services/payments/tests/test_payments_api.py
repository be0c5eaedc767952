"""The admin REST API (admin role + `payments` permission): list with filters and cursor pages,
detail with the event ledger, refunds with an Idempotency-Key; bad input is a 4xx naming the
field and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from vanity_payments.tables import mock_refunds, payment_refunds

from .builders import charge_command

ADMIN = "/api/v1/admin/payments"


@pytest.fixture
def admin(token_minter):
    return token_minter.headers(token_minter.admin())


async def test_admin_routes_refuse_customers_and_anonymous_callers(harness, token_minter):
    payment = await harness.payments.charge(charge_command("k1", "order-1", capture=True))
    customer = token_minter.headers(token_minter.token("alice"))
    other_admin = token_minter.headers(token_minter.admin(perms=("catalog",)))
    routes = [
        ("GET", ADMIN, None),
        ("GET", f"{ADMIN}/{payment.id}", None),
        ("POST", f"{ADMIN}/{payment.id}/refunds", {"amount_minor": 100}),
    ]
    for method, url, body in routes:
        headers = {"Idempotency-Key": "refund-1"}
        anonymous = await harness.http.request(method, url, json=body, headers=headers)
        assert anonymous.status_code == 401, url
        for who in (customer, other_admin):
            response = await harness.http.request(
                method, url, json=body, headers={**headers, **who}
            )
            assert response.status_code == 403, url
            assert response.headers["content-type"] == "application/problem+json"
    assert await harness.count(payment_refunds) == 0


async def test_list_filters_and_cursor_pages(harness, admin):
    start = harness.clock()
    made = []
    for i in range(5):
        harness.clock.advance(minutes=1)
        capture = i % 2 == 0
        made.append(
            await harness.payments.charge(charge_command(f"k{i}", f"order-{i}", capture=capture))
        )
    newest_first = [p.id for p in reversed(made)]

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await harness.http.get(ADMIN, params=params, headers=admin)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first

    captured = await harness.http.get(ADMIN, params={"status": "captured"}, headers=admin)
    assert {i["order_id"] for i in captured.json()["items"]} == {"order-0", "order-2", "order-4"}
    by_order = await harness.http.get(ADMIN, params={"order_id": "order-3"}, headers=admin)
    assert [i["id"] for i in by_order.json()["items"]] == [made[3].id]
    window = {
        "created_from": (start + timedelta(minutes=2)).isoformat(),
        "created_to": (start + timedelta(minutes=4)).isoformat(),
    }
    dated = await harness.http.get(ADMIN, params=window, headers=admin)
    assert [i["order_id"] for i in dated.json()["items"]] == ["order-2", "order-1"]


async def test_detail_shows_the_event_ledger(harness, admin):
    payment = await harness.payments.charge(charge_command("k1", "order-1"))
    await harness.payments.capture(payment.id)
    response = await harness.http.get(f"{ADMIN}/{payment.id}", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "captured"
    assert body["captured"] == {"amount_minor": 5_000, "currency": "EUR"}
    assert [
        (e["transition"], e["from_status"], e["to_status"], e["actor"]) for e in body["events"]
    ] == [
        ("authorize", "pending", "authorized", "api"),
        ("capture", "authorized", "captured", "api"),
    ]
    missing = await harness.http.get(f"{ADMIN}/nope", headers=admin)
    assert missing.status_code == 404


async def test_refund_partial_replayed_and_over_the_remainder_refused(harness, admin):
    payment = await harness.payments.charge(charge_command("k1", "order-1", capture=True))
    url = f"{ADMIN}/{payment.id}/refunds"
    first = await harness.http.post(
        url,
        json={"amount_minor": 2_000, "reason": "damaged"},
        headers={**admin, "Idempotency-Key": "refund-1"},
    )
    assert first.status_code == 201
    assert first.json()["status"] == "partially_refunded"
    assert first.json()["events"][-1]["actor"] == "admin:admin-1"
    replay = await harness.http.post(
        url,
        json={"amount_minor": 2_000, "reason": "damaged"},
        headers={**admin, "Idempotency-Key": "refund-1"},
    )
    assert replay.status_code == 201 and replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = await harness.http.post(
        url, json={"amount_minor": 1}, headers={**admin, "Idempotency-Key": "refund-1"}
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"

    over = await harness.http.post(
        url, json={"amount_minor": 3_001}, headers={**admin, "Idempotency-Key": "refund-2"}
    )
    assert over.status_code == 422
    assert over.json()["reason"] == "REFUND_EXCEEDS_CAPTURED"
    assert over.json()["errors"][0]["field"] == "amount_minor"
    rest = await harness.http.post(url, json={}, headers={**admin, "Idempotency-Key": "refund-3"})
    assert rest.status_code == 201
    assert rest.json()["refunded"]["amount_minor"] == 5_000
    assert rest.json()["status"] == "refunded"
    assert await harness.count(mock_refunds) == 2


async def test_refund_of_an_uncaptured_payment_is_refused(harness, admin):
    payment = await harness.payments.charge(charge_command("k1", "order-1"))
    response = await harness.http.post(
        f"{ADMIN}/{payment.id}/refunds", json={}, headers={**admin, "Idempotency-Key": "r1"}
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "PAYMENT_NOT_CAPTURED"
    assert await harness.count(mock_refunds) == 0


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        ({"amount_minor": 100}, {}, 400, "Idempotency-Key"),
        ({"amount_minor": 100}, {"Idempotency-Key": "k" * 300}, 400, "Idempotency-Key"),
        ({"amount_minor": 0}, {"Idempotency-Key": "r"}, 422, "amount_minor"),
        ({"amount_minor": -1}, {"Idempotency-Key": "r"}, 422, "amount_minor"),
        ({"amount_minor": 10**12}, {"Idempotency-Key": "r"}, 422, "amount_minor"),
        ({"amount_minor": "ten"}, {"Idempotency-Key": "r"}, 422, "amount_minor"),
        ({"reason": "a\x00b"}, {"Idempotency-Key": "r"}, 422, "reason"),
        ({"reason": "x" * 256}, {"Idempotency-Key": "r"}, 422, "reason"),
        ({"amount": 5}, {"Idempotency-Key": "r"}, 422, "amount"),
    ],
)
async def test_bad_refund_requests_name_the_field_and_refund_nothing(
    harness, admin, body, headers, status, field
):
    payment = await harness.payments.charge(charge_command("k1", "order-1", capture=True))
    response = await harness.http.post(
        f"{ADMIN}/{payment.id}/refunds", json=body, headers={**admin, **headers}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await harness.count(payment_refunds) == 0
    assert await harness.count(mock_refunds) == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "paid"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"created_from": "2026-11-30T10:00:00"}, "created_from"),  # no zone: a guess
        ({"created_from": "yesterday"}, "created_from"),
        (
            {"created_from": "2026-11-30T10:00:00Z", "created_to": "2026-11-30T09:00:00Z"},
            "created_to",
        ),
        ({"order_id": "o" * 37}, "order_id"),
        ({"created_to": "9999-12-31T23:59:59-23:59"}, "created_to"),  # past datetime's end
        ({"created_from": "0001-01-01T00:00:00+00:00"}, "created_from"),
    ],
)
async def test_bad_list_queries_name_the_field(harness, admin, params, field):
    response = await harness.http.get(ADMIN, params=params, headers=admin)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_webhook_needs_no_token_but_a_signature(harness):
    response = await harness.http.post("/api/v1/payments/webhooks/stripe", content=b"{}")
    assert response.status_code == 400
    assert response.json()["reason"] == "WEBHOOK_SIGNATURE_MISSING"
    assert response.json()["errors"][0]["field"] == "Stripe-Signature"


async def test_overlong_payment_ids_in_paths_are_named(harness, admin):
    long_id = "p" * 37
    detail = await harness.http.get(f"{ADMIN}/{long_id}", headers=admin)
    refund = await harness.http.post(
        f"{ADMIN}/{long_id}/refunds", json={}, headers={**admin, "Idempotency-Key": "r"}
    )
    authenticate = await harness.http.post(
        f"/api/v1/payments/dev/{long_id}/authenticate", json={"client_secret": "s", "success": True}
    )
    for response in (detail, refund, authenticate):
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "payment_id"


async def test_the_3ds_stand_in_exists_only_with_the_mock(harness_factory, sqlite_url, unused_port):
    """With Stripe the customer's browser talks to Stripe.js: payments serves no stand-in."""
    from vanity_payments.providers.stripe import StripeProvider

    stripe_backed = await harness_factory(
        sqlite_url,
        provider=StripeProvider("sk_test_unused", api_base=f"http://127.0.0.1:{unused_port}"),
    )
    response = await stripe_backed.http.post(
        "/api/v1/payments/dev/pay-1/authenticate", json={"client_secret": "s", "success": True}
    )
    assert response.status_code == 404
    assert stripe_backed.container.mock_provider is None
