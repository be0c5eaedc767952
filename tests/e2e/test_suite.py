"""The running shop, through the gateway, as a client sees it."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vanity_testkit.tokens import mint_token

from tools.suite import SERVICES

pytestmark = pytest.mark.e2e


async def sign_up(gateway: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    password = "correct horse battery staple 42"
    registered = await gateway.post(
        "/api/v1/auth/register", json={"email": email, "name": "E2E Shopper", "password": password}
    )
    assert registered.status_code == 201, registered.text
    login = await gateway.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return email, {"Authorization": f"Bearer {login.json()['access_token']}"}


async def test_every_service_reports_ready_with_its_database(suite):
    # How long start-up takes is a figure (tools.measure_suite), not a pass/fail here.
    async with httpx.AsyncClient(timeout=5) as client:
        for name in SERVICES:
            ready = await client.get(f"http://127.0.0.1:{suite.layout.http(name)}/readyz")
            assert ready.status_code == 200, (name, ready.text)
            assert ready.json()["checks"]["database"] == "ok", name


async def test_every_service_reports_grpc_serving(suite):
    for name in SERVICES:
        async with suite.layout.grpc_channel(name) as channel:  # mutual TLS, as the tools
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
            assert answer.status == health_pb2.HealthCheckResponse.SERVING, name


async def test_public_reads_reach_catalog_and_inventory(gateway):
    products = await gateway.get("/api/v1/products", params={"limit": 3})
    assert products.status_code == 200
    items = products.json()["items"]
    assert len(items) == 3
    detail = await gateway.get(f"/api/v1/products/{items[0]['slug']}")
    assert detail.status_code == 200
    sku = detail.json()["variants"][0]["sku"]
    availability = await gateway.get("/api/v1/availability", params={"sku": sku})
    assert availability.status_code == 200
    assert availability.json()["items"][0]["sku"] == sku
    assert (await gateway.get("/api/v1/brands")).status_code == 200
    assert (await gateway.get("/api/v1/categories")).status_code == 200


async def test_signed_in_user_reaches_identity_cart_and_checkout(gateway, client_at):
    email, auth = await sign_up(client_at())
    me = await gateway.get("/api/v1/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["email"] == email
    cart = await gateway.get("/api/v1/cart", headers=auth)
    assert cart.status_code == 200
    orders = await gateway.get("/api/v1/orders", headers=auth)
    assert orders.status_code == 200
    assert orders.json()["items"] == []


async def test_gateway_refuses_anonymous_and_customer_admin_calls(gateway, client_at):
    anonymous = await gateway.get("/api/v1/orders")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"message": "Unauthorized"}
    _, auth = await sign_up(client_at())
    admin = await gateway.get("/api/v1/admin/users", headers=auth)
    assert admin.status_code == 403
    assert admin.json()["message"] == "You cannot consume this service"


async def test_stripe_webhook_reaches_payments_without_a_token(gateway):
    response = await gateway.post("/api/v1/payments/webhooks/stripe", content=b"{}")
    assert response.status_code == 400  # payments itself answered: the signature is missing
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["reason"] == "WEBHOOK_SIGNATURE_MISSING"


async def test_request_id_generated_echoed_and_seen_by_the_service(suite, gateway):
    response = await gateway.get("/api/v1/brands")
    assert len(response.headers["x-request-id"]) >= 32
    request_id = f"e2e-{uuid.uuid4().hex}"
    given = await gateway.get("/api/v1/brands", headers={"X-Request-ID": request_id})
    assert given.headers["x-request-id"] == request_id
    # The catalog process logged the request under the id the gateway passed on.
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        lines = [
            line
            for line in suite.log_path.read_text(errors="replace").splitlines()
            if request_id in line and "catalog.1" in line
        ]
        if lines:
            break
        await asyncio.sleep(0.1)  # bounded wait for the log line to be flushed
    else:
        pytest.fail("catalog never logged the request id the gateway forwarded")
    assert '"service": "catalog"' in lines[0]


async def test_concurrent_clients_are_served(gateway):
    responses = await asyncio.gather(
        *(gateway.get("/api/v1/products", params={"limit": 5}) for _ in range(40))
    )
    assert {r.status_code for r in responses} == {200}


async def test_admin_token_passes_the_gateway_acl_to_the_service(suite, gateway):
    keys = suite.layout.data_dir / "keys"
    admin = {"Authorization": f"Bearer {mint_token(keys, sub='admin-e2e', admin=True)}"}
    response = await gateway.get("/api/v1/admin/products", headers=admin)
    assert response.status_code == 200, response.text


async def test_expired_and_forged_tokens_stop_at_the_gateway(suite, gateway, tmp_path):
    keys = suite.layout.data_dir / "keys"
    expired = mint_token(keys, sub="late", ttl=-10)
    response = await gateway.get("/api/v1/orders", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json() == {"exp": "token expired"}
    header, payload, signature = mint_token(keys, sub="alice").split(".")
    tampered = ".".join(
        [header, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), signature]
    )
    response = await gateway.get("/api/v1/orders", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


async def test_auth_routes_carry_rate_limit_headers(gateway):
    response = await gateway.post(
        "/api/v1/auth/login", json={"email": "x@example.com", "password": "nope-nope-nope"}
    )
    assert response.status_code == 401
    assert "X-RateLimit-Limit-Minute" in response.headers
    assert int(response.headers["RateLimit-Remaining"]) >= 0


async def test_password_reset_mail_goes_through_the_celery_worker(suite, client_at):
    """The API only queues the job; the e-mail exists once the worker (folder broker) ran it."""
    client = client_at()
    email, _ = await sign_up(client)
    response = await client.post("/api/v1/auth/password-reset", json={"email": email})
    assert response.status_code == 202
    mail_dir = suite.layout.data_dir / "mail"
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        sent = [p for p in mail_dir.glob("*.eml") if email in p.read_text(errors="replace")]
        if sent:
            break
        await asyncio.sleep(0.2)  # bounded wait for an asynchronous effect, not for luck
    else:
        pytest.fail(f"no reset e-mail for {email} in {mail_dir} within 30 s")
    assert "password" in sent[0].read_text(errors="replace").lower()


async def test_spoofed_consumer_headers_grant_nothing(gateway, client_at):
    spoof = {
        "X-Consumer-Username": "vanity-admin",
        "X-Consumer-Groups": "admin",
        "X-Credential-Identifier": "admin.spoofed",
    }
    anonymous = await gateway.get("/api/v1/admin/products", headers=spoof)
    assert anonymous.status_code == 401
    _, auth = await sign_up(client_at())
    customer = await gateway.get("/api/v1/admin/products", headers={**auth, **spoof})
    assert customer.status_code == 403
    assert customer.json()["message"] == "You cannot consume this service"


async def test_oversized_body_is_413_before_reaching_identity(client_at):
    client = client_at()
    response = await client.post(
        "/api/v1/auth/login",
        content=b"x" * (1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["message"] == "Request size limit exceeded"


async def test_cors_preflight_is_answered_by_the_gateway(gateway):
    response = await gateway.options(
        "/api/v1/cart",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in response.headers["access-control-allow-methods"]
    foreign = await gateway.options(
        "/api/v1/cart",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in foreign.headers


async def test_auth_routes_are_limited_per_address_with_kong_headers(client_at):
    client = client_at()
    # A different unknown account each time, so identity's per-account back-off stays out of it.
    answers = [
        await client.post(
            "/api/v1/auth/login",
            json={"email": f"nobody-{n}@example.com", "password": "wrong-password"},
        )
        for n in range(11)
    ]
    assert [a.status_code for a in answers[:10]] == [401] * 10  # identity answered
    limited = answers[10]
    assert limited.status_code == 429
    assert limited.json()["message"] == "API rate limit exceeded"
    assert limited.headers["X-RateLimit-Remaining-Minute"] == "0"
    assert int(limited.headers["Retry-After"]) >= 1
    # Another address still gets through: the limit is per client address.
    other = await client_at().post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong-password"}
    )
    assert other.status_code == 401
