"""Password reset by e-mail, and brute-force back-off on sign-in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from vanity_identity.throttle import client_ip, parse_networks

PASSWORD = "correct horse battery staple"  # as in conftest.py
NEW = "a brand new passphrase"


def _token(message) -> str:
    match = re.search(r"token=([A-Za-z0-9_\-]+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


async def _request_reset(identity, email: str, **headers):
    return await identity.client.post(
        "/api/v1/auth/password-reset", json={"email": email}, headers=headers
    )


async def test_reset_flow_is_single_use_and_revokes_sessions(identity):
    tokens = await identity.signed_in("ada@example.com")
    r = await _request_reset(identity, "ADA@example.com")
    assert r.status_code == 202
    assert identity.queue.sent == [("identity.send_password_reset_email", ("ada@example.com",))]
    await identity.deliver_queued()
    [mail] = identity.mails()
    assert mail["To"] == "ada@example.com"
    token = _token(mail)
    r = await identity.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "new_password"
    # a refused password did not consume the token
    r = await identity.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW}
    )
    assert r.status_code == 204, r.text
    r = await identity.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW + "!"}
    )
    assert r.status_code == 422 and r.json()["reason"] == "INVALID_RESET_TOKEN"
    # every session of the account was revoked
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 401
    r = await identity.client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert r.status_code == 401
    await identity.login("ada@example.com", NEW)


async def test_reset_token_expires(identity):
    await identity.register("late@example.com")
    await _request_reset(identity, "late@example.com")
    await identity.deliver_queued()
    token = _token(identity.mails()[0])
    identity.service.clock = lambda: datetime.now(UTC) + timedelta(minutes=31)
    r = await identity.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW}
    )
    assert r.status_code == 422 and r.json()["reason"] == "INVALID_RESET_TOKEN"
    identity.service.clock = lambda: datetime.now(UTC)
    await identity.login("late@example.com")  # password unchanged


async def test_reset_answers_the_same_for_unknown_addresses(identity):
    await identity.register("known@example.com")
    known = await _request_reset(identity, "known@example.com")
    unknown = await _request_reset(identity, "stranger@example.com")
    malformed = await _request_reset(identity, "stranger")
    assert known.status_code == unknown.status_code == malformed.status_code == 202
    assert known.json() == unknown.json() == malformed.json()
    await identity.deliver_queued()
    assert [m["To"] for m in identity.mails()] == ["known@example.com"]
    r = await identity.client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": "made-up", "new_password": NEW}
    )
    assert r.status_code == 422 and r.json()["reason"] == "INVALID_RESET_TOKEN"


async def test_reset_throttles_per_address_silently_and_per_ip_loudly(make_identity):
    identity = await make_identity(reset_email_limits="2/hour", reset_ip_limits="4/hour")
    await identity.register("spam@example.com")
    for _ in range(3):
        assert (await _request_reset(identity, "spam@example.com")).status_code == 202
    assert len(identity.queue.sent) == 2  # the third one was dropped, the answer unchanged
    assert (await _request_reset(identity, "x@example.com")).status_code == 202
    r = await _request_reset(identity, "y@example.com")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


async def test_login_backs_off_per_account_without_enumeration(make_identity):
    identity = await make_identity(login_account_limits="3/minute", login_ip_limits="100/minute")
    await identity.register("target@example.com")

    async def attempt(email, password="Wrong-password-1"):
        return await identity.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )

    for _ in range(3):
        assert (await attempt("target@example.com")).status_code == 401
        assert (await attempt("ghost@example.com")).status_code == 401
    locked = await attempt("target@example.com", PASSWORD)  # even the right password waits
    ghost = await attempt("ghost@example.com")
    assert locked.status_code == ghost.status_code == 429
    assert locked.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(locked.headers["Retry-After"]) <= 60
    body_a, body_b = locked.json(), ghost.json()
    body_a.pop("request_id"), body_b.pop("request_id")
    assert body_a["reason"] == "TOO_MANY_ATTEMPTS"
    assert body_a["status"] == body_b["status"] and body_a["reason"] == body_b["reason"]
    # another account is not affected
    await identity.register("other@example.com")
    await identity.login("other@example.com")


async def test_login_backs_off_per_ip(make_identity):
    # Behind the gateway (make run trusts its address, 127.0.0.1, the test client's too): the
    # address it forwards is the client.
    identity = await make_identity(
        login_account_limits="100/minute", login_ip_limits="3/minute", trusted_proxies="127.0.0.1"
    )
    await identity.register("victim@example.com")
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    for i in range(3):
        r = await identity.client.post(
            "/api/v1/auth/login",
            json={"email": f"guess{i}@example.com", "password": "Wrong-password-1"},
            headers=attacker,
        )
        assert r.status_code == 401
    r = await identity.client.post(
        "/api/v1/auth/login",
        json={"email": "victim@example.com", "password": PASSWORD},
        headers=attacker,
    )
    assert r.status_code == 429 and "Retry-After" in r.headers
    # the same account from another client is fine
    await identity.login("victim@example.com", **{"X-Forwarded-For": "198.51.100.7"})


async def test_a_direct_client_cannot_escape_the_ip_limit_by_forging_x_forwarded_for(
    make_identity,
):
    # By default no peer is a trusted proxy: the socket peer is the client, whatever it claims.
    identity = await make_identity(login_account_limits="100/minute", login_ip_limits="3/minute")
    await identity.register("victim@example.com")
    for i in range(3):
        r = await identity.client.post(
            "/api/v1/auth/login",
            json={"email": f"guess{i}@example.com", "password": "Wrong-password-1"},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        )
        assert r.status_code == 401
    r = await identity.client.post(
        "/api/v1/auth/login",
        json={"email": "victim@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert r.status_code == 429 and "Retry-After" in r.headers


def _request(peer: str, xff: list[str] | None = None):
    headers = SimpleNamespace(getlist=lambda name: list(xff or []))
    return SimpleNamespace(client=SimpleNamespace(host=peer), headers=headers)


def test_client_ip_rule():
    trusted = parse_networks("127.0.0.1,::1,10.0.0.0/8")
    # not through a trusted proxy: the socket peer, whatever the header says
    assert client_ip(_request("198.51.100.1", ["1.2.3.4"]), trusted) == "198.51.100.1"
    # through the proxy: the last entry it appended
    assert client_ip(_request("127.0.0.1", ["203.0.113.5"]), trusted) == "203.0.113.5"
    # a client-supplied prefix is ignored: the right-most untrusted hop wins
    assert client_ip(_request("127.0.0.1", ["6.6.6.6, 203.0.113.5"]), trusted) == "203.0.113.5"
    # chained trusted proxies are skipped
    assert client_ip(_request("10.1.2.3", ["203.0.113.5, 10.0.0.7"]), trusted) == "203.0.113.5"
    # no header: the proxy itself
    assert client_ip(_request("127.0.0.1"), trusted) == "127.0.0.1"
    # garbage stops the walk
    assert client_ip(_request("127.0.0.1", ["203.0.113.5, bogus"]), trusted) == "127.0.0.1"


async def test_counters_live_in_redis_when_configured(make_identity):
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).ping()
    except redis.RedisError:
        import os

        import pytest

        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on CI")
        pytest.skip("Redis not reachable")
    import uuid

    run = uuid.uuid4().hex[:8]
    email = f"r-{run}@example.com"
    # A namespace of this test's own: counters left by earlier runs must not throttle this one.
    settings = {
        "redis_url": "redis://127.0.0.1:6379/15",
        "login_account_limits": "2/minute",
        "rate_limit_prefix": f"identity-test-{run}",
    }
    first = await make_identity(**settings)
    await first.register(email)
    for _ in range(2):
        r = await first.client.post(
            "/api/v1/auth/login", json={"email": email, "password": "x" * 12}
        )
        assert r.status_code == 401
    # a second replica shares the counters
    second = await make_identity(**settings)
    r = await second.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 429
    ready = await second.client.get("/readyz")
    assert ready.json()["checks"]["rate_limit_store"] == "ok"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    leftovers = list(client.scan_iter(match=f"*identity-test-{run}*"))
    assert leftovers, "the counters were not stored in Redis"
    client.delete(*leftovers)
