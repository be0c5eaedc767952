"""The browser's refresh token: an httpOnly, SameSite=Strict cookie scoped to /api/v1/auth, asked
for with `X-Refresh-Cookie: 1`; refresh and logout take it from the cookie only with the custom
header and a same-site Origin (CSRF). Mobile clients keep the refresh token in the body."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from .conftest import PASSWORD

COOKIE_MODE = {"X-Refresh-Cookie": "1"}
REFRESH = "/api/v1/auth/refresh"


def refresh_cookie(response) -> tuple[str, dict]:
    """The vanity_refresh Set-Cookie of a response: (value, attributes lower-cased)."""
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        if "vanity_refresh" in jar:
            morsel = jar["vanity_refresh"]
            flags = {k.lower(): v for k, v in morsel.items() if v}
            flags["raw"] = header.lower()
            return morsel.value, flags
    raise AssertionError(f"no vanity_refresh cookie in {response.headers.get_list('set-cookie')}")


async def cookie_login(identity, email: str, **headers) -> tuple[dict, str, dict]:
    await identity.register(email)
    r = await identity.client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={**COOKIE_MODE, **headers},
    )
    assert r.status_code == 200, r.text
    identity.client.cookies.clear()  # every test sends the cookie it means to, explicitly
    token, flags = refresh_cookie(r)
    return r.json(), token, flags


def with_cookie(token: str, **headers) -> dict[str, str]:
    return {"Cookie": f"vanity_refresh={token}", **headers}


async def post(identity, path: str, **kwargs):
    r = await identity.client.post(path, **kwargs)
    identity.client.cookies.clear()
    return r


async def test_login_sets_the_cookie_and_keeps_the_token_out_of_the_body(identity):
    body, token, flags = await cookie_login(identity, "ada@example.com")
    assert "refresh_token" not in body
    assert body["access_token"] and body["user"]["email"] == "ada@example.com"
    assert token
    assert flags["httponly"] is True
    assert flags["samesite"].lower() == "strict"
    assert flags["path"] == "/api/v1/auth"
    assert int(flags["max-age"]) == identity.settings.refresh_token_ttl_seconds
    assert flags["secure"] is True  # http://identity is not a loopback host


async def test_plain_http_on_localhost_in_development_drops_secure(identity):
    _, _, flags = await cookie_login(identity, "loop@example.com", Host="127.0.0.1:8000")
    assert "secure" not in flags, flags["raw"]
    assert flags["httponly"] is True


async def test_body_flow_is_unchanged_for_mobile_clients(identity):
    await identity.register("mobile@example.com")
    r = await post(
        identity, "/api/v1/auth/login", json={"email": "mobile@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200
    assert r.json()["refresh_token"]
    assert not r.headers.get_list("set-cookie")
    r = await post(identity, REFRESH, json={"refresh_token": r.json()["refresh_token"]})
    assert r.status_code == 200 and r.json()["refresh_token"]


async def test_refresh_from_the_cookie_rotates_it(identity):
    _, first, _ = await cookie_login(identity, "rot@example.com")
    r = await post(identity, REFRESH, headers=with_cookie(first, **COOKIE_MODE))
    assert r.status_code == 200, r.text
    assert "refresh_token" not in r.json()
    second, _ = refresh_cookie(r)
    assert second != first
    # The rotated-out token is dead (and its reuse revokes the session, as in the body flow).
    r = await post(identity, REFRESH, headers=with_cookie(first, **COOKIE_MODE))
    assert r.status_code == 401


async def test_refresh_from_the_cookie_without_the_csrf_header_is_refused(identity):
    _, token, _ = await cookie_login(identity, "csrf@example.com")
    r = await post(identity, REFRESH, headers=with_cookie(token))
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    # Refused before use: the token still works with the header.
    r = await post(identity, REFRESH, headers=with_cookie(token, **COOKIE_MODE))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://identity.evil.example"])
async def test_refresh_from_another_origin_is_refused(identity, origin):
    _, token, _ = await cookie_login(identity, "xo@example.com")
    r = await post(identity, REFRESH, headers=with_cookie(token, Origin=origin, **COOKIE_MODE))
    assert r.status_code == 403, r.text
    r = await post(
        identity, REFRESH, headers=with_cookie(token, Origin="http://identity", **COOKIE_MODE)
    )
    assert r.status_code == 200, r.text


async def test_origin_is_checked_against_the_host_the_trusted_gateway_saw(make_identity):
    identity = await make_identity(trusted_proxies="127.0.0.1")  # the test client's address
    shop = {"X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "https"}
    _, token, _ = await cookie_login(identity, "gw@example.com", **shop)
    refused = with_cookie(token, Origin="http://identity", **shop, **COOKIE_MODE)
    assert (await post(identity, REFRESH, headers=refused)).status_code == 403
    allowed = with_cookie(token, Origin="https://shop.example", **shop, **COOKIE_MODE)
    assert (await post(identity, REFRESH, headers=allowed)).status_code == 200


async def test_login_asking_for_the_cookie_from_another_origin_is_refused(identity):
    await identity.register("lx@example.com")
    r = await post(
        identity,
        "/api/v1/auth/login",
        json={"email": "lx@example.com", "password": PASSWORD},
        headers={"Origin": "https://evil.example", **COOKIE_MODE},
    )
    assert r.status_code == 403
    assert not r.headers.get_list("set-cookie")


async def test_refresh_with_neither_body_nor_cookie_names_the_field(identity):
    r = await post(identity, REFRESH, headers=COOKIE_MODE)
    assert r.status_code == 422
    assert any(e["field"].endswith("refresh_token") for e in r.json()["errors"])


async def test_logout_from_the_cookie_revokes_and_clears_it(identity):
    _, token, _ = await cookie_login(identity, "out@example.com")
    r = await post(identity, "/api/v1/auth/logout", headers=with_cookie(token))
    assert r.status_code == 403  # the cookie alone is not enough
    r = await post(identity, "/api/v1/auth/logout", headers=with_cookie(token, **COOKIE_MODE))
    assert r.status_code == 204
    cleared, flags = refresh_cookie(r)
    assert cleared == "" and int(flags["max-age"]) == 0 and flags["path"] == "/api/v1/auth"
    r = await post(identity, REFRESH, headers=with_cookie(token, **COOKIE_MODE))
    assert r.status_code == 401
