"""Accounts, sessions and refresh-token rotation."""

from __future__ import annotations

import asyncio

from vanity_identity import repository as repo

PASSWORD = "correct horse battery staple"  # as in conftest.py


def _same_answer(a, b):
    """Two problem responses identical but for the request id."""
    ja, jb = a.json(), b.json()
    ja.pop("request_id"), jb.pop("request_id")
    return a.status_code == b.status_code and ja == jb


async def test_register_normalises_email_and_refuses_duplicates(identity):
    user = await identity.register("  Ada.Lovelace@Example.COM ")
    assert user["email"] == "ada.lovelace@example.com"
    assert user["roles"] == ["customer"] and user["permissions"] == []
    r = await identity.client.post(
        "/api/v1/auth/register",
        json={"email": "ADA.LOVELACE@example.com", "name": "Other", "password": PASSWORD},
    )
    assert r.status_code == 409
    assert r.json()["reason"] == "EMAIL_TAKEN"


async def test_register_validates_fields(identity):
    cases = [
        ({"email": "not-an-email", "name": "A", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "name": "  ", "password": PASSWORD}, "name"),
        ({"email": "a@example.com", "name": "A", "password": "short"}, "password"),
        ({"email": "a@example.com", "name": "A", "password": "password123"}, "password"),
        ({"email": "a@example.com", "name": "A", "password": "aaaaaaaaaaaa"}, "password"),
        ({"email": "alexander@example.com", "name": "A", "password": "xalexander9"}, "password"),
        ({"email": "a@example.com", "name": "A"}, "password"),
    ]
    for body, field in cases:
        r = await identity.client.post("/api/v1/auth/register", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, (body, r.text)
    # nothing was written
    async with identity.service.db.connect() as conn:
        everyone = await repo.list_users(
            conn, query=None, role=None, disabled=None, after_email=None, limit=10
        )
    assert everyone == []


async def test_login_answers_unknown_email_and_wrong_password_alike(identity, monkeypatch):
    await identity.register("known@example.com")
    verified = []
    passwords = identity.service.passwords
    original = passwords._verify

    def spy(stored, password):
        verified.append(stored)
        return original(stored, password)

    monkeypatch.setattr(passwords, "_verify", spy)
    wrong = await identity.client.post(
        "/api/v1/auth/login", json={"email": "known@example.com", "password": "Wrong-password-1"}
    )
    unknown = await identity.client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "Wrong-password-1"}
    )
    malformed = await identity.client.post(
        "/api/v1/auth/login", json={"email": "nobody", "password": "Wrong-password-1"}
    )
    assert wrong.status_code == 401
    assert _same_answer(wrong, unknown) and _same_answer(wrong, malformed)
    assert wrong.json()["reason"] == "INVALID_CREDENTIALS"
    # the unknown addresses cost an argon2 verification too (a dummy hash): similar timing
    assert len(verified) == 3 and all(h.startswith("$argon2id$") for h in verified)


async def test_profile_read_and_update(identity):
    tokens = await identity.signed_in("ada@example.com")
    headers = identity.bearer(tokens)
    r = await identity.client.patch("/api/v1/me", json={"name": "  Ada   King "}, headers=headers)
    assert r.status_code == 200 and r.json()["name"] == "Ada King"
    r = await identity.client.patch("/api/v1/me", json={"roles": ["admin"]}, headers=headers)
    assert r.status_code == 422  # unknown fields are refused, roles are never self-assigned
    assert (await identity.client.get("/api/v1/me")).status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(identity):
    first = await identity.signed_in("ada@example.com")
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    # an attacker replays the rotated token: refused, and the family is revoked
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert r.status_code == 401 and r.json()["reason"] == "REFRESH_TOKEN_REUSED"
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert r.status_code == 401 and r.json()["reason"] == "INVALID_REFRESH_TOKEN"
    # the family's access token no longer works at identity either
    r = await identity.client.get("/api/v1/me", headers=identity.bearer(second))
    assert r.status_code == 401
    # another sign-in (another family) is unaffected
    other = await identity.login("ada@example.com")
    assert (
        await identity.client.get("/api/v1/me", headers=identity.bearer(other))
    ).status_code == 200


async def test_concurrent_refresh_with_one_token_yields_one_winner(identity):
    tokens = await identity.signed_in("race@example.com")
    results = await asyncio.gather(
        *(
            identity.client.post(
                "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in results).count(200) <= 1
    assert any(r.status_code == 401 for r in results)


async def test_unknown_and_expired_refresh_tokens_fail(identity):
    from datetime import UTC, datetime, timedelta

    r = await identity.client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert r.status_code == 401 and r.json()["reason"] == "INVALID_REFRESH_TOKEN"
    tokens = await identity.signed_in("exp@example.com")
    future = datetime.now(UTC) + timedelta(days=31)
    identity.service.clock = lambda: future
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 401 and r.json()["reason"] == "INVALID_REFRESH_TOKEN"


async def test_logout_ends_the_session(identity):
    tokens = await identity.signed_in("bye@example.com")
    r = await identity.client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=identity.bearer(tokens),
    )
    assert r.status_code == 204
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 401
    assert (
        await identity.client.get("/api/v1/me", headers=identity.bearer(tokens))
    ).status_code == 401
    # idempotent, and says nothing about unknown tokens
    r = await identity.client.post("/api/v1/auth/logout", json={"refresh_token": "nope"})
    assert r.status_code == 204


async def test_change_password_revokes_other_sessions(identity):
    await identity.register("pw@example.com")
    here = await identity.login("pw@example.com")
    elsewhere = await identity.login("pw@example.com")
    r = await identity.client.post(
        "/api/v1/me/password",
        json={"current_password": "wrong wrong wrong", "new_password": "a new passphrase 42"},
        headers=identity.bearer(here),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "current_password"
    r = await identity.client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a new passphrase 42"},
        headers=identity.bearer(here),
    )
    assert r.status_code == 204, r.text
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]}
    )
    assert r.status_code == 401
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": here["refresh_token"]}
    )
    assert r.status_code == 200
    r = await identity.client.post(
        "/api/v1/auth/login", json={"email": "pw@example.com", "password": PASSWORD}
    )
    assert r.status_code == 401
    await identity.login("pw@example.com", "a new passphrase 42")


async def test_disabled_user_cannot_refresh_or_sign_in(identity):
    admin = await identity.admin()
    customer = await identity.signed_in("bad@example.com")
    user_id = customer["user"]["id"]
    r = await identity.client.post(
        f"/api/v1/admin/users/{user_id}/disable", headers=identity.bearer(admin)
    )
    assert r.status_code == 200 and r.json()["disabled"] is True
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": customer["refresh_token"]}
    )
    assert r.status_code == 401
    r = await identity.client.post(
        "/api/v1/auth/login", json={"email": "bad@example.com", "password": PASSWORD}
    )
    assert r.status_code == 403 and r.json()["reason"] == "ACCOUNT_DISABLED"
    # with a wrong password the answer stays the generic one
    r = await identity.client.post(
        "/api/v1/auth/login", json={"email": "bad@example.com", "password": "not the password"}
    )
    assert r.status_code == 401 and r.json()["reason"] == "INVALID_CREDENTIALS"
    r = await identity.client.post(
        f"/api/v1/admin/users/{user_id}/enable", headers=identity.bearer(admin)
    )
    assert r.status_code == 200 and r.json()["disabled"] is False
    await identity.login("bad@example.com")


async def test_disabled_between_refreshes_blocks_the_refresh_itself(identity):
    customer = await identity.signed_in("later@example.com")
    # disabled directly in the database (no session revocation): refresh re-reads the user
    from sqlalchemy import update
    from vanity_identity.tables import users

    async with identity.service.db.connect(write=True) as conn:
        await conn.execute(
            update(users)
            .where(users.c.id == customer["user"]["id"])
            .values(disabled_at=users.c.created_at)
        )
    r = await identity.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": customer["refresh_token"]}
    )
    assert r.status_code == 401 and r.json()["reason"] == "ACCOUNT_DISABLED"
