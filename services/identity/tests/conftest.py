"""Identity test harness: the app on a throwaway database (SQLite, and MariaDB when reachable),
a temporary KEYS_DIR, cheap argon2 parameters, and an in-memory task queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from vanity_common.migrations import migrate
from vanity_identity.app import create_app
from vanity_identity.settings import IdentitySettings
from vanity_testkit import TokenMinter

PASSWORD = "correct horse battery staple"


def make_settings(database_url: str, tmp_path: Path, keys_dir: Path, **overrides):
    values = {
        "env": "test",
        "database_url": database_url,
        "keys_dir": keys_dir,
        "data_dir": tmp_path,
        "grpc_port": 0,
        "access_log": False,
        "log_json": False,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 8192,
        "argon2_parallelism": 1,
        **overrides,
    }
    return IdentitySettings(**values)


@dataclass
class FakeQueue:
    """Stands in for the Celery sender the outbox relay hands messages to."""

    sent: list[tuple[str, tuple]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)

    async def deliver(self, message) -> None:
        self.sent.append((message.topic, tuple(message.payload["args"])))
        self.message_ids.append(message.id)


@dataclass
class Harness:
    app: object
    client: httpx.AsyncClient
    settings: IdentitySettings
    queue: FakeQueue

    @property
    def service(self):
        return self.app.state.container.identity

    async def register(self, email: str, password: str = PASSWORD, name: str = "Ada Lovelace"):
        r = await self.client.post(
            "/api/v1/auth/register", json={"email": email, "name": name, "password": password}
        )
        assert r.status_code == 201, r.text
        return r.json()["user"]

    async def login(self, email: str, password: str = PASSWORD, **headers) -> dict:
        r = await self.client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}, headers=headers
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def signed_in(self, email: str, password: str = PASSWORD) -> dict:
        await self.register(email, password)
        return await self.login(email, password)

    async def admin(self, email: str = "root@vanity.shop", perms=None) -> dict:
        await self.service.create_admin(email, "Root", PASSWORD, perms)
        return await self.login(email)

    @staticmethod
    def bearer(tokens: dict | str) -> dict[str, str]:
        token = tokens if isinstance(tokens, str) else tokens["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def mails(self) -> list:
        folder = Path(self.settings.data_dir) / "mail"
        if not folder.is_dir():
            return []
        return [
            message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(folder.glob("*.eml"))
        ]

    async def deliver_queued(self) -> None:
        """What the worker does: run the queued reset e-mails."""
        while self.queue.sent:
            name, args = self.queue.sent.pop(0)
            assert name == "identity.send_password_reset_email"
            await self.service.send_password_reset(*args, message_id=self.queue.message_ids.pop(0))


async def start(settings: IdentitySettings):
    await migrate("vanity_identity", settings.database_url)
    app = create_app(settings)
    queue = FakeQueue()
    manager = LifespanManager(app)
    await manager.__aenter__()
    app.state.container.identity.task_sender = queue
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://identity"
    )
    return Harness(app, client, settings, queue), manager


@pytest.fixture
def settings_factory(database_url, tmp_path, token_minter: TokenMinter):
    def factory(**overrides) -> IdentitySettings:
        return make_settings(database_url, tmp_path, token_minter.keys_dir, **overrides)

    return factory


@pytest.fixture
async def make_identity(settings_factory):
    started = []

    async def factory(**overrides) -> Harness:
        harness, manager = await start(settings_factory(**overrides))
        started.append((harness, manager))
        return harness

    yield factory
    for harness, manager in reversed(started):
        await harness.client.aclose()
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def identity(make_identity) -> Harness:
    return await make_identity()
