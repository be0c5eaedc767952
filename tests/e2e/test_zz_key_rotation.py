"""Signing-key rotation without downtime, on the running suite (named to run last: it changes
the suite's active key). `make rotate-keys gateway-config` does these two steps."""

from __future__ import annotations

import asyncio
import base64
import json

from vanity_identity import keys
from vanity_testkit.tokens import mint_token

from tests.e2e.test_suite import sign_up
from tools import local_setup


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


async def eventually(check, within: float, every: float = 0.2) -> bool:
    """Polls an asynchronous effect (a file watcher's reload) until it shows, within a bound."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(every)
    return False


async def test_rotation_keeps_old_tokens_valid_and_new_keys_take_over(suite, gateway, client_at):
    keys_dir = suite.layout.data_dir / "keys"
    old_key = keys.active_key_id(keys_dir)
    _, old_auth = await sign_up(client_at())  # a session signed with the old key

    new_key = keys.rotate(keys_dir)  # 1. new pair, active for signing, old public key kept
    local_setup.prepare_keys_and_gateway(suite.layout.data_dir)  # 2. render Kong's credentials
    assert new_key != old_key

    new_token = mint_token(keys_dir, sub="rotated-user", key_id=new_key)
    new_auth = {"Authorization": f"Bearer {new_token}"}

    async def gateway_and_cart_accept_new_key() -> bool:
        return (await gateway.get("/api/v1/cart", headers=new_auth)).status_code == 200

    assert await eventually(gateway_and_cart_accept_new_key, within=15)
    # Tokens signed before the rotation keep working until they expire.
    assert (await gateway.get("/api/v1/me", headers=old_auth)).status_code == 200
    assert (await gateway.get("/api/v1/cart", headers=old_auth)).status_code == 200

    # Identity itself now signs with the new key (it re-reads its key folder every few seconds).
    email, _ = await sign_up(client_at())

    async def identity_signs_with_new_key() -> bool:
        # each attempt from its own address: the auth routes allow 10 a minute per address
        login = await client_at().post(
            "/api/v1/auth/login",
            json={"email": email, "password": "correct horse battery staple 42"},
        )
        return login.status_code == 200 and kid_of(login.json()["access_token"]).endswith(new_key)

    assert await eventually(identity_signs_with_new_key, within=20, every=1.0)
