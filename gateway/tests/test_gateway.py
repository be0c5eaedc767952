"""The stand-in answers as Kong does: run against a real upstream process through real sockets."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import aiohttp
import pytest
import redis.asyncio as aioredis
import yaml
from vanity_gateway.render import dump, public_keys, render
from vanity_testkit.gateway import KONG_YML, plugin_of, route_of, running_gateway, service_of
from vanity_testkit.tokens import b64url, mint_token  # fmt: skip

pytestmark = pytest.mark.timeout(60)
UNAUTH = {"message": "Unauthorized"}


async def get(http, url, **kw):
    async with http.get(url, **kw) as r:
        return r.status, r.headers, await r.read()


def bearer(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture
async def gw(tmp_path, doc, echo_upstream, clock):
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as url:
        yield url


# --- jwt -------------------------------------------------------------------------------------


async def test_valid_customer_token_is_proxied_with_consumer_headers(gw, http, keys_dir, clock):
    tok = mint_token(keys_dir, sub="42", now=int(clock()))
    kid = json.loads(__import__("base64").urlsafe_b64decode(tok.split(".")[0] + "=="))["kid"]
    spoof = {"X-Consumer-ID": "evil", "X-Consumer-Username": "vanity-admin",
             "X-Credential-Identifier": "admin.x", "X-Consumer-Groups": "admin"}  # fmt: skip
    status, headers, body = await get(http, f"{gw}/api/v1/cart", headers=bearer(tok) | spoof)
    assert status == 200, body
    seen = json.loads(body)["headers"]
    assert seen["x-consumer-id"] == "6f0e1c2a-5b7d-4c39-9a51-0c7f6a1e2b01"
    assert seen["x-consumer-username"] == "vanity-customer"
    assert seen["x-credential-identifier"] == kid
    assert seen["x-consumer-groups"] == "customer"
    assert seen["authorization"] == f"Bearer {tok}"
    assert headers["Via"].endswith("kong/3.9.1") and "X-Kong-Upstream-Latency" in headers


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}],
    ids=["none", "basic", "empty-bearer"],
)
async def test_no_token(gw, http, headers):
    status, h, body = await get(http, f"{gw}/api/v1/orders", headers=headers)
    assert (status, json.loads(body)) == (401, UNAUTH)
    assert h["WWW-Authenticate"] == "Bearer"
    assert h["Content-Type"] == "application/json; charset=utf-8"


async def test_token_in_query_string_is_ignored(gw, http, keys_dir, clock):
    tok = mint_token(keys_dir, now=int(clock()))
    status, _, body = await get(http, f"{gw}/api/v1/orders?jwt={tok}")
    assert (status, json.loads(body)) == (401, UNAUTH)


def _forge(header: dict, claims: dict, sig: bytes = b"x" * 64) -> str:
    enc = lambda d: b64url(json.dumps(d).encode())  # noqa: E731
    return f"{enc(header)}.{enc(claims)}.{b64url(sig)}"


async def test_jwt_failure_messages(gw, http, keys_dir, other_keys_dir, clock):
    now = int(clock())
    good = mint_token(keys_dir, now=now)
    kid = json.loads(__import__("base64").urlsafe_b64decode(good.split(".")[0] + "=="))["kid"]
    h64, c64, _ = good.split(".")
    cases = {
        "garbage": ("abc", 401, {"message": "Bad token; invalid JSON"}),
        "not-json": ("a.b.c", 401, {"message": "Bad token; invalid JSON"}),
        "alg-none": (_forge({"alg": "none", "kid": kid}, {"exp": now + 60}), 401,
                     {"message": "Bad token; invalid alg"}),
        "no-kid": (mint_token(keys_dir, now=now, header={"kid": None}), 401,
                   {"message": "No mandatory 'kid' in claims"}),
        "empty-kid": (mint_token(keys_dir, now=now, header={"kid": ""}), 401,
                      {"message": "Invalid 'kid' in claims"}),
        "unknown-kid": (mint_token(keys_dir, now=now, header={"kid": "customer.nope"}), 401,
                        {"message": "No credentials found for given 'kid'"}),
        "alg-mismatch": (_forge({"alg": "HS256", "kid": kid}, {"exp": now + 60}), 401,
                         {"message": "Invalid algorithm"}),
        "bad-signature": (mint_token(other_keys_dir, now=now, header={"kid": kid}), 401,
                          {"message": "Invalid signature"}),
        "tampered": (h64 + "." + b64url(b'{"sub":"1","exp":9999999999}') + "." + good.split(".")[2],
                     401, {"message": "Invalid signature"}),
        "expired": (mint_token(keys_dir, now=now - 1000, ttl=900), 401, {"exp": "token expired"}),
        "exp-missing": (mint_token(keys_dir, now=now, exp=None), 401, {"exp": "must be a number"}),
        "exp-string": (mint_token(keys_dir, now=now, exp="soon"), 401, {"exp": "must be a number"}),
        "too-long": (mint_token(keys_dir, now=now, ttl=3600), 401,
                     {"exp": "exceeds maximum allowed expiration"}),
        # Kong asserts a 64-byte ES256 signature: a Lua error, i.e. a 500
        "short-es256-sig": (f"{h64}.{c64}.{b64url(b'short')}", 500,
                            {"message": "An unexpected error occurred"}),
    }  # fmt: skip
    for name, (tok, want_status, want_body) in cases.items():
        status, h, body = await get(http, f"{gw}/api/v1/me", headers=bearer(tok))
        assert (status, json.loads(body)) == (want_status, want_body), name
        if want_status == 401:
            assert h["WWW-Authenticate"] == 'Bearer error="invalid_token"', name


async def test_nbf_and_multiple_tokens(tmp_path, doc, echo_upstream, http, keys_dir, clock):
    jwt = plugin_of(route_of(doc, "orders"), "jwt")
    jwt["config"] = dict(jwt["config"], claims_to_verify=["exp", "nbf"],
                         header_names=["authorization", "x-token"])  # fmt: skip
    now = int(clock())
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as gw:
        early = mint_token(keys_dir, now=now, nbf=now + 120)
        st, _, body = await get(http, f"{gw}/api/v1/orders", headers=bearer(early))
        assert (st, json.loads(body)) == (401, {"nbf": "token not valid yet"})
        a, b = mint_token(keys_dir, now=now), mint_token(keys_dir, now=now, sub="2")
        st, _, body = await get(
            http, f"{gw}/api/v1/orders", headers=bearer(a) | {"X-Token": f"Bearer {b}"}
        )
        assert (st, json.loads(body)) == (401, {"message": "Multiple tokens provided"})
        # the same token twice is one token (Kong collects them in a set)
        st, _, _ = await get(
            http, f"{gw}/api/v1/orders", headers=bearer(a) | {"X-Token": f"Bearer {a}"}
        )
        assert st == 200


# --- acl ------------------------------------------------------------------------------------


async def test_acl_on_admin_paths(gw, http, keys_dir, clock):
    now = int(clock())
    customer = mint_token(keys_dir, now=now)
    admin = mint_token(keys_dir, now=now, admin=True)
    for path in ["/api/v1/admin/users", "/api/v1/admin/products", "/api/v1/admin/stock/SKU1",
                 "/api/v1/admin/orders", "/api/v1/admin/payments"]:  # fmt: skip
        st, h, body = await get(http, gw + path, headers=bearer(customer))
        assert st == 403, path
        msg = json.loads(body)
        assert msg["message"] == "You cannot consume this service"
        assert msg["request_id"] == h["X-Kong-Request-Id"]
        st, _, body = await get(http, gw + path, headers=bearer(admin))
        assert st == 200, path
        seen = json.loads(body)["headers"]
        assert (seen["x-consumer-groups"], seen["x-consumer-username"]) == ("admin", "vanity-admin")
        st, _, body = await get(http, gw + path)
        assert (st, json.loads(body)) == (401, UNAUTH)


# --- header hygiene, request id, security headers ----------------------------------------------


async def test_spoofed_consumer_headers_stripped_on_public_routes(gw, http):
    spoof = {"X-Consumer-ID": "x", "X-Consumer-Username": "vanity-admin", "X-Consumer-Groups": "admin",
             "X-Credential-Identifier": "admin.k", "X-Consumer-Custom-ID": "c",
             "X-Anonymous-Consumer": "false"}  # fmt: skip
    for path in ["/api/v1/products?q=x", "/api/v1/availability?sku=A"]:
        st, _, body = await get(http, gw + path, headers=spoof)
        assert st == 200
        seen = json.loads(body)["headers"]
        assert not {k.lower() for k in spoof} & seen.keys(), path
    async with http.post(f"{gw}/api/v1/auth/login", json={}, headers=spoof) as r:
        seen = (await r.json())["headers"]
    assert not {k.lower() for k in spoof} & seen.keys()


async def test_request_id_generated_echoed_and_forwarded(gw, http):
    st, h, body = await get(http, f"{gw}/api/v1/products")
    rid = h["X-Request-ID"]
    assert uuid.UUID(rid)
    assert json.loads(body)["headers"]["x-request-id"] == rid
    st, h, body = await get(http, f"{gw}/api/v1/products", headers={"X-Request-ID": "abc-123"})
    assert h["X-Request-ID"] == "abc-123" == json.loads(body)["headers"]["x-request-id"]
    st, h, body = await get(http, f"{gw}/api/v1/orders")  # Kong-generated answers echo it too
    assert st == 401 and uuid.UUID(h["X-Request-ID"])


async def test_security_headers(gw, http):
    _st, h, _ = await get(http, f"{gw}/api/v1/products")
    assert len(h.getall("Date")) == 1  # the gateway's own, not the upstream's as well
    assert h["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert (h["X-Content-Type-Options"], h["X-Frame-Options"]) == ("nosniff", "DENY")


async def test_unknown_route_404(gw, http):
    st, _, body = await get(http, f"{gw}/.well-known/jwks.json")
    assert st == 404 and json.loads(body)["message"] == "no Route matched with those values"
    async with http.post(f"{gw}/api/v1/products", json={}) as r:  # public route is read-only
        assert r.status == 404


# --- size limit, CORS, webhook ----------------------------------------------------------------


async def test_request_size_limit(gw, http, keys_dir, clock):
    tok = mint_token(keys_dir, now=int(clock()))
    big = b"x" * (1024 * 1024 + 1)
    async with http.post(f"{gw}/api/v1/cart/items", data=big, headers=bearer(tok)) as r:
        assert r.status == 413
        assert (await r.json())["message"] == "Request size limit exceeded"

    async def chunks():
        for _ in range(17):
            yield b"y" * 65536

    async with http.post(f"{gw}/api/v1/cart/items", data=chunks(), headers=bearer(tok)) as r:
        assert r.status == 413
    async with http.post(
        f"{gw}/api/v1/cart/items", data=b"z" * 1024 * 1024, headers=bearer(tok)
    ) as r:
        assert r.status == 200 and (await r.json())["body_len"] == 1024 * 1024


async def test_cors_preflight_answered_by_gateway(gw, http):
    pre = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    async with http.options(f"{gw}/api/v1/cart/items", headers=pre) as r:
        assert r.status == 200 and await r.read() == b""
        h = r.headers
        assert h["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert h["Access-Control-Allow-Credentials"] == "true"
        assert h["Access-Control-Allow-Methods"] == "GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS"
        assert "Authorization" in h["Access-Control-Allow-Headers"]
        assert h["Access-Control-Max-Age"] == "600" and h["Vary"] == "Origin"
        assert "Via" not in h  # not proxied
    async with http.options(
        f"{gw}/api/v1/cart", headers=pre | {"Origin": "https://evil.test"}
    ) as r:
        assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
    _st, h, _ = await get(
        http, f"{gw}/api/v1/products", headers={"Origin": "https://www.vanity.example"}
    )
    assert h["Access-Control-Allow-Origin"] == "https://www.vanity.example"
    assert "X-Request-ID" in h["Access-Control-Expose-Headers"]


async def test_stripe_webhook_needs_no_token(gw, http):
    async with http.post(f"{gw}/api/v1/payments/webhooks/stripe", data=b"{}",
                         headers={"Stripe-Signature": "t=1,v1=abc"}) as r:  # fmt: skip
        assert r.status == 200
        seen = await r.json()
        assert seen["path"] == "/api/v1/payments/webhooks/stripe"
        assert seen["headers"]["stripe-signature"] == "t=1,v1=abc"


# --- rate limiting ----------------------------------------------------------------------------


def _limit(route: dict, **conf):
    rl = plugin_of(route, "rate-limiting")
    rl["config"] = {k: v for k, v in rl["config"].items() if k not in ("minute", "hour")} | conf


async def test_per_consumer_limit(tmp_path, doc, echo_upstream, http, keys_dir, clock):
    _limit(route_of(doc, "orders"), minute=3)
    now = int(clock())
    alice, bob = mint_token(keys_dir, now=now, sub="1"), mint_token(keys_dir, now=now, sub="2")
    admin = mint_token(keys_dir, now=now, admin=True)
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as gw:
        for remaining in (2, 1, 0):
            st, h, _ = await get(http, f"{gw}/api/v1/orders", headers=bearer(alice))
            assert st == 200
            assert (h["X-RateLimit-Limit-Minute"], h["X-RateLimit-Remaining-Minute"]) == (
                "3",
                str(remaining),
            )
            assert (h["RateLimit-Limit"], h["RateLimit-Remaining"], h["RateLimit-Reset"]) == (
                "3",
                str(remaining),
                "30",
            )
        # bob is the same Kong consumer (vanity-customer): the counter is shared
        st, h, body = await get(http, f"{gw}/api/v1/orders", headers=bearer(bob))
        assert st == 429
        msg = json.loads(body)
        assert (
            msg["message"] == "API rate limit exceeded"
            and msg["request_id"] == h["X-Kong-Request-Id"]
        )
        assert (h["Retry-After"], h["RateLimit-Remaining"], h["X-RateLimit-Remaining-Minute"]) == (
            "30",
            "0",
            "0",
        )
        # another consumer has its own counter
        st, h, _ = await get(http, f"{gw}/api/v1/orders", headers=bearer(admin))
        assert st == 200 and h["X-RateLimit-Remaining-Minute"] == "2"


async def test_per_ip_limit_on_anonymous_routes(tmp_path, doc, echo_upstream, http, clock):
    _limit(route_of(doc, "catalog-public"), minute=2, hour=5)
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as gw:
        for _ in range(2):
            st, h, _ = await get(http, f"{gw}/api/v1/products")
            assert st == 200
        assert (h["X-RateLimit-Limit-Hour"], h["X-RateLimit-Remaining-Hour"]) == ("5", "3")
        st, h, _ = await get(http, f"{gw}/api/v1/brands")
        assert st == 429 and h["Retry-After"] == "30"
        assert h["X-RateLimit-Remaining-Hour"] == "3"  # not decremented: minute is the stop
        conn = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=conn) as other_ip:
            st, h, _ = await get(other_ip, f"{gw}/api/v1/products")
            assert st == 200 and h["X-RateLimit-Remaining-Minute"] == "1"


async def test_auth_routes_are_limited_much_harder(gw, http, doc):
    auth = plugin_of(route_of(doc, "identity-auth"), "rate-limiting")["config"]
    public = plugin_of(route_of(doc, "catalog-public"), "rate-limiting")["config"]
    checkout = plugin_of(route_of(doc, "checkout"), "rate-limiting")["config"]
    assert auth["limit_by"] == "ip" and auth["minute"] * 10 <= public["minute"]
    assert checkout["minute"] * 10 <= public["minute"]
    for i in range(auth["minute"]):
        async with http.post(f"{gw}/api/v1/auth/login", json={"email": "a@b.c"}) as r:
            assert r.status == 200, i
            assert r.headers["X-RateLimit-Limit-Minute"] == str(auth["minute"])
    async with http.post(f"{gw}/api/v1/auth/register", json={}) as r:
        assert r.status == 429
    st, _, _ = await get(http, f"{gw}/api/v1/products")  # other routes unaffected
    assert st == 200


async def test_redis_policy_shares_counters_between_gateways(
    tmp_path, echo_upstream, http, keys_dir, clock
):
    db = 15
    client = aioredis.Redis(db=db)
    try:
        await client.ping()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    doc = render(yaml.safe_load(KONG_YML.read_text()), public_keys(keys_dir),
                 redis_url=f"redis://127.0.0.1:6379/{db}")  # fmt: skip
    route = route_of(doc, "catalog-public")
    assert plugin_of(route, "rate-limiting")["config"]["policy"] == "redis"
    tag = uuid.uuid4().hex
    route["name"] = f"catalog-public-{tag}"  # route id in the key: no clash with other runs
    _limit(route, minute=2)
    try:
        async with running_gateway(tmp_path, doc, echo_upstream, clock) as a, \
                running_gateway(tmp_path, doc, echo_upstream, clock) as b:  # fmt: skip
            assert (await get(http, f"{a}/api/v1/products"))[0] == 200
            assert (await get(http, f"{b}/api/v1/products"))[0] == 200
            st, h, _ = await get(http, f"{a}/api/v1/products")
            assert st == 429 and h["RateLimit-Remaining"] == "0"
        keys = [k async for k in client.scan_iter(f"ratelimit:route:catalog-public-{tag}:*")]
        assert keys and int(await client.get(keys[0])) == 3
    finally:
        async for k in client.scan_iter(f"ratelimit:route:catalog-public-{tag}:*"):
            await client.delete(k)
        await client.aclose()


# --- upstream failures ------------------------------------------------------------------------


async def test_upstream_down_is_502(tmp_path, doc, echo_upstream, http, clock):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    ups = {"catalog": f"http://127.0.0.1:{closed}"}
    async with running_gateway(tmp_path, doc, echo_upstream, clock, upstreams=ups) as gw:
        st, h, body = await get(http, f"{gw}/api/v1/products")
    assert st == 502
    msg = json.loads(body)
    assert msg["message"] == "An invalid response was received from the upstream server"
    assert msg["request_id"] == h["X-Kong-Request-Id"]


async def test_slow_upstream_is_504_after_read_timeout(tmp_path, doc, echo_upstream, http, clock):
    service_of(doc, "catalog")["read_timeout"] = 300
    async with running_gateway(tmp_path, doc, echo_upstream, clock) as gw:
        st, _, body = await get(http, f"{gw}/api/v1/products?delay=0.1")
        assert st == 200
        st, _, body = await get(http, f"{gw}/api/v1/products?delay=3")
    assert st == 504
    assert json.loads(body)["message"] == "The upstream server is timing out"


# --- refusing bad configs at start ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["plugins"].append({"name": "bot-detector"}), "unknown plugin 'bot-detector'"),
        (lambda d: d["plugins"].append({"name": "key-auth"}), "unknown plugin 'key-auth' (the stand-in implements"),
        (lambda d: plugin_of(route_of(d, "cart"), "rate-limiting")["config"].update(minut=5), "config.minut: unknown field"),
        (lambda d: plugin_of(route_of(d, "cart"), "jwt")["config"].update(maximum_expiration=-1), "maximum_expiration: value should be between"),
    ],
    ids=["unknown-plugin", "unimplemented-plugin", "misspelt-key", "out-of-range"],
)  # fmt: skip
def test_refuses_to_start(tmp_path, doc, mutate, needle):
    mutate(doc)
    cfg = tmp_path / "bad.yml"
    cfg.write_text(dump(doc))
    proc = subprocess.run(
        [sys.executable, "-m", "vanity_gateway", "--config", str(cfg), "--upstreams", "",
         "--port", "0", "--status-port", "0"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "refusing to start" in proc.stderr and needle in proc.stderr
