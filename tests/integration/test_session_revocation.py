"""A token outlives neither its session nor its account (issue 16, finding 7): identity ends a
session (logout, disabled account, refresh-token reuse) and another service — checkout, a real
one — refuses the session's access token after its next poll of identity's ended sessions,
long before the token expires. The poll is driven by the test (`feed.refresh()`), not by a
sleep."""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx
import pytest
from asgi_lifespan import LifespanManager
from vanity_checkout.app import create_app as create_checkout
from vanity_checkout.settings import CheckoutSettings
from vanity_common.migrations import migrate
from vanity_identity.app import create_app as create_identity
from vanity_identity.settings import IdentitySettings

PASSWORD = "correct horse battery staple"


class Shop:
    def __init__(self, identity_app, identity, checkout_app, checkout) -> None:
        self.identity_app = identity_app
        self.identity = identity
        self.checkout_app = checkout_app
        self.checkout = checkout

    @property
    def feed(self):
        return self.checkout_app.state.ended_sessions_feed

    async def signed_in(self, email: str) -> dict:
        r = await self.identity.post(
            "/api/v1/auth/register", json={"email": email, "name": "Ada", "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        return await self.login(email)

    async def login(self, email: str) -> dict:
        r = await self.identity.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def orders(self, tokens: dict) -> httpx.Response:
        return await self.checkout.get(
            "/api/v1/orders", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )


@pytest.fixture
async def shop(tmp_path):
    identity_db = f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
    checkout_db = f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}"
    await migrate("vanity_identity", identity_db)
    await migrate("vanity_checkout", checkout_db)
    keys_dir = tmp_path / "keys"
    identity_app = create_identity(
        IdentitySettings(
            env="test",
            database_url=identity_db,
            data_dir=tmp_path,
            keys_dir=keys_dir,
            grpc_port=0,
            argon2_time_cost=1,
            argon2_memory_cost_kib=8192,
            argon2_parallelism=1,
            log_json=False,
        )
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(LifespanManager(identity_app))
        checkout_app = create_checkout(
            CheckoutSettings(
                database_url=checkout_db,
                data_dir=tmp_path,
                keys_dir=keys_dir,
                grpc_enabled=False,
                identity_grpc_target=f"127.0.0.1:{identity_app.state.grpc_port}",
                # The background poll runs once at start, then the test drives it.
                ended_sessions_refresh_seconds=3600,
                log_json=False,
            )
        )
        await stack.enter_async_context(LifespanManager(checkout_app))
        identity = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=identity_app), base_url="http://identity"
            )
        )
        checkout = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=checkout_app), base_url="http://checkout"
            )
        )
        yield Shop(identity_app, identity, checkout_app, checkout)


def assert_session_ended(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == "SESSION_ENDED"


async def test_after_logout_the_token_is_refused_by_another_service(shop):
    ada = await shop.signed_in("ada@example.com")
    grace = await shop.signed_in("grace@example.com")
    assert (await shop.orders(ada)).status_code == 200

    r = await shop.identity.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {ada['access_token']}"}
    )
    assert r.status_code == 204
    assert await shop.feed.refresh() >= 1

    assert_session_ended(await shop.orders(ada))
    assert (await shop.orders(grace)).status_code == 200  # other sessions unaffected


async def test_a_disabled_accounts_tokens_are_refused_by_another_service(shop):
    ada = await shop.signed_in("ada@example.com")
    phone = await shop.login("ada@example.com")  # a second sign-in of the same account
    await shop.identity_app.state.container.identity.create_admin(
        "root@vanity.shop", "Root", PASSWORD
    )
    admin = await shop.login("root@vanity.shop")
    r = await shop.identity.post(
        f"/api/v1/admin/users/{ada['user']['id']}/disable",
        headers={"Authorization": f"Bearer {admin['access_token']}"},
    )
    assert r.status_code == 200
    await shop.feed.refresh()

    assert_session_ended(await shop.orders(ada))
    assert_session_ended(await shop.orders(phone))
    assert (await shop.orders(admin)).status_code == 200


async def test_refresh_token_reuse_ends_the_family_at_another_service(shop):
    ada = await shop.signed_in("ada@example.com")
    rotated = await shop.identity.post(
        "/api/v1/auth/refresh", json={"refresh_token": ada["refresh_token"]}
    )
    assert rotated.status_code == 200
    # A thief replays the first refresh token: identity revokes the whole family.
    replay = await shop.identity.post(
        "/api/v1/auth/refresh", json={"refresh_token": ada["refresh_token"]}
    )
    assert replay.status_code == 401
    await shop.feed.refresh()

    assert_session_ended(await shop.orders(rotated.json()))
    assert_session_ended(await shop.orders(ada))
