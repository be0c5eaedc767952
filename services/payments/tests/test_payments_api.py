"""Stripe webhooks need Stripe's signature (no JWT); admin payment reads need the admin role."""

import hashlib
import hmac
import json
import time

import httpx
import pytest
from asgi_lifespan import LifespanManager
from vanity_common.migrations import migrate
from vanity_payments.app import create_app
from vanity_payments.settings import PaymentsSettings

WEBHOOK_SECRET = "whsec_test_secret_for_tests"


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Signs like Stripe does: v1 = HMAC-SHA256(secret, "<t>.<payload>")."""
    t = timestamp or int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@pytest.fixture
async def client(sqlite_url, tmp_path, token_minter):
    await migrate("vanity_payments", sqlite_url)
    app = create_app(
        PaymentsSettings(
            database_url=sqlite_url,
            data_dir=tmp_path,
            keys_dir=token_minter.keys_dir,
            grpc_enabled=False,
            stripe_webhook_secret=WEBHOOK_SECRET,
        )
    )
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments") as c,
    ):
        yield c


EVENT = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_1", "object": "payment_intent"}},
    }
).encode()


async def test_signed_webhook_is_accepted(client):
    response = await client.post(
        "/api/v1/payments/webhooks/stripe",
        content=EVENT,
        headers={"Stripe-Signature": stripe_signature(EVENT, WEBHOOK_SECRET)},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "WEBHOOK_SIGNATURE_MISSING"),
        ({"Stripe-Signature": stripe_signature(EVENT, "whsec_wrong")}, "WEBHOOK_SIGNATURE_INVALID"),
        (
            {"Stripe-Signature": stripe_signature(EVENT, WEBHOOK_SECRET, int(time.time()) - 3600)},
            "WEBHOOK_SIGNATURE_INVALID",
        ),
    ],
    ids=["missing", "wrong-secret", "replayed-too-old"],
)
async def test_unsigned_forged_or_stale_webhooks_are_refused(client, headers, reason):
    response = await client.post("/api/v1/payments/webhooks/stripe", content=EVENT, headers=headers)
    assert response.status_code == 422
    assert response.json()["reason"] == reason
    assert response.json()["errors"][0]["field"] == "Stripe-Signature"


async def test_tampered_payload_is_refused(client):
    signature = stripe_signature(EVENT, WEBHOOK_SECRET)
    tampered = EVENT.replace(b"pi_1", b"pi_2")
    response = await client.post(
        "/api/v1/payments/webhooks/stripe",
        content=tampered,
        headers={"Stripe-Signature": signature},
    )
    assert response.status_code == 422


async def test_admin_payments_need_the_admin_role(client, token_minter):
    assert (await client.get("/api/v1/admin/payments")).status_code == 401
    customer = token_minter.headers(token_minter.token("alice"))
    assert (await client.get("/api/v1/admin/payments", headers=customer)).status_code == 403
    no_perm = token_minter.headers(token_minter.admin(perms=("catalog",)))
    assert (await client.get("/api/v1/admin/payments", headers=no_perm)).status_code == 403
    admin = token_minter.headers(token_minter.admin())
    response = await client.get("/api/v1/admin/payments", headers=admin)
    assert response.status_code == 200
    assert response.json() == {"items": []}
    missing = await client.get("/api/v1/admin/payments/nope", headers=admin)
    assert missing.status_code == 404


async def test_customer_token_with_admin_kid_is_refused(client, token_minter):
    """A customer token signed under the admin class (or vice versa) is not trusted."""
    forged = token_minter.token("alice", roles=("customer",), token_class="admin")
    response = await client.get("/api/v1/admin/payments", headers=token_minter.headers(forged))
    assert response.status_code == 401
