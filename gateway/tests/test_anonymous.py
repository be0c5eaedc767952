"""Issue 11: guest carts through Kong's jwt `anonymous` consumer (kong/plugins/jwt/handler.lua)."""

from __future__ import annotations

import json

import pytest
from vanity_gateway.schema import check
from vanity_testkit.gateway import plugin_of, route_of, running_gateway
from vanity_testkit.tokens import b64url, mint_token

pytestmark = pytest.mark.timeout(60)
ANONYMOUS_ID = "6f0e1c2a-5b7d-4c39-9a51-0c7f6a1e2b00"
FORGED = {
    "X-Anonymous-Consumer": "false",
    "X-Consumer-ID": "evil",
    "X-Consumer-Username": "vanity-admin",
    "X-Consumer-Custom-ID": "c",
    "X-Credential-Identifier": "admin.forged",
    "X-Consumer-Groups": "admin",
}


@pytest.fixture
async def gw(tmp_path, doc, echo_upstream, clock):
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as url:
        yield url


async def call(http, method, url, **kw):
    async with http.request(method, url, **kw) as r:
        return r.status, await r.read()


def upstream_headers(body: bytes) -> dict[str, str]:
    return json.loads(body)["headers"]


def assert_anonymous(seen: dict[str, str]) -> None:
    assert seen["x-anonymous-consumer"] == "true"
    assert seen["x-consumer-id"] == ANONYMOUS_ID
    assert seen["x-consumer-username"] == "vanity-anonymous"
    assert seen["x-consumer-groups"] == "anonymous"
    assert "x-credential-identifier" not in seen and "x-consumer-custom-id" not in seen


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/cart"), ("POST", "/api/v1/cart/items"), ("DELETE", "/api/v1/cart/items/1")],
)
async def test_guest_proceeds_as_the_anonymous_consumer(gw, http, method, path):
    status, body = await call(http, method, gw + path, headers=FORGED)
    assert status == 200, body
    assert_anonymous(upstream_headers(body))


async def test_signed_in_customer_is_not_anonymous(gw, http, keys_dir, clock):
    token = mint_token(keys_dir, now=int(clock()))
    headers = FORGED | {"X-Anonymous-Consumer": "true", "Authorization": f"Bearer {token}"}
    status, body = await call(http, "GET", f"{gw}/api/v1/cart", headers=headers)
    assert status == 200
    seen = upstream_headers(body)
    assert "x-anonymous-consumer" not in seen  # a forged one is removed
    assert seen["x-consumer-username"] == "vanity-customer"
    assert seen["x-credential-identifier"].startswith("customer.")
    assert seen["x-consumer-groups"] == "customer"


async def test_failed_authentication_is_anonymous_too(gw, http, keys_dir, other_keys_dir, clock):
    """Kong's "logical OR" flow: with `anonymous` set, *any* failed authentication (expired,
    forged, garbage) proceeds as the anonymous consumer; the Authorization header still reaches
    the upstream, so the cart service can tell "guest" from "token no longer valid"."""
    now = int(clock())
    kid = json.loads(__import__("base64").urlsafe_b64decode(
        mint_token(keys_dir, now=now).split(".")[0] + "=="))["kid"]  # fmt: skip
    for name, token in {
        "expired": mint_token(keys_dir, now=now - 1000, ttl=900),
        "forged": mint_token(other_keys_dir, now=now, header={"kid": kid}),
        "garbage": "abc",
        "too-long": mint_token(keys_dir, now=now, ttl=3600),
    }.items():
        auth = {"Authorization": f"Bearer {token}"}
        status, body = await call(http, "GET", f"{gw}/api/v1/cart", headers=auth)
        assert status == 200, name
        seen = upstream_headers(body)
        assert_anonymous(seen)
        assert seen["authorization"] == f"Bearer {token}", name


async def test_a_lua_error_is_not_swallowed_by_anonymous(gw, http, keys_dir, clock):
    # a short ES256 signature is an assertion inside Kong's parser: 500 even with anonymous
    h64, c64, _ = mint_token(keys_dir, now=int(clock())).split(".")
    auth = {"Authorization": f"Bearer {h64}.{c64}.{b64url(b'short')}"}
    status, body = await call(http, "GET", f"{gw}/api/v1/cart", headers=auth)
    assert (status, json.loads(body)) == (500, {"message": "An unexpected error occurred"})


async def test_anonymous_is_only_for_the_cart(gw, http):
    for path in ["/api/v1/orders", "/api/v1/me", "/api/v1/admin/products"]:
        status, body = await call(http, "GET", gw + path)
        assert (status, json.loads(body)) == (401, {"message": "Unauthorized"}), path
    status, _ = await call(http, "POST", f"{gw}/api/v1/checkout", json={})
    assert status == 401


def test_anonymous_must_name_a_consumer(doc):
    _, errors = check(doc)
    assert errors == []
    plugin_of(route_of(doc, "cart"), "jwt")["config"]["anonymous"] = "nobody"
    _, errors = check(doc)
    assert errors == [
        "routes[cart].plugins[jwt].config.anonymous: references unknown consumer 'nobody'"
    ]
    plugin_of(route_of(doc, "cart"), "jwt")["config"]["anonymous"] = ANONYMOUS_ID  # by id
    assert check(doc)[1] == []
