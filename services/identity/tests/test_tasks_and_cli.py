"""The Celery task (run eagerly, as the worker would), the beat schedule, and the commands:
create-admin, seed, rotate-keys, retire-keys."""

from __future__ import annotations

import asyncio
import io
import sys
from email import message_from_bytes, policy
from unittest.mock import patch

import pytest
from vanity_common.migrations import migrate
from vanity_common.tasks import bridge
from vanity_identity import keys as keyfiles
from vanity_identity import repository
from vanity_identity.__main__ import main
from vanity_identity.bootstrap import build_container
from vanity_identity.settings import load_settings

PASSWORD = "correct horse battery staple"


def cli_main(argv: list[str]) -> int:
    """`python -m vanity_identity ...`: the entry point exits with the command's status."""
    with patch.object(sys, "argv", ["vanity_identity", *argv]), pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code


@pytest.fixture
def env(monkeypatch, sqlite_url, tmp_path):
    values = {
        "IDENTITY_ENV": "test",
        "IDENTITY_DATABASE_URL": sqlite_url,
        "IDENTITY_DATA_DIR": str(tmp_path),
        "IDENTITY_KEYS_DIR": str(tmp_path / "keys"),
        "IDENTITY_ARGON2_TIME_COST": "1",
        "IDENTITY_ARGON2_MEMORY_COST_KIB": "8192",
        "IDENTITY_ARGON2_PARALLELISM": "1",
        "IDENTITY_LOG_JSON": "false",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    bridge._resources.pop("identity.container", None)
    asyncio.run(migrate("vanity_identity", sqlite_url))
    yield tmp_path
    bridge._resources.pop("identity.container", None)


def _run(coro_factory):
    async def go():
        async with build_container(load_settings()) as services:
            return await coro_factory(services.identity, services.db)

    return asyncio.run(go())


def test_reset_task_sends_a_link_and_ignores_unknown_addresses(env):
    from vanity_identity.tasks import send_password_reset_email

    _run(lambda service, db: service.register("ada@example.com", "Ada", PASSWORD))
    assert send_password_reset_email.apply(args=["stranger@example.com"]).get() is False
    assert send_password_reset_email.apply(args=["Ada@Example.com"]).get() is True
    [path] = sorted((env / "mail").glob("*.eml"))
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail["To"] == "ada@example.com" and "token=" in mail.get_content()


def test_worker_schedules_the_purge():
    from vanity_identity.worker import BEAT_SCHEDULE, celery_app

    assert BEAT_SCHEDULE["identity-purge-expired"]["task"] == "identity.purge_expired"
    assert celery_app.conf.task_default_queue == "identity"


def test_create_admin_needs_a_password_and_never_has_a_default(env, monkeypatch):
    monkeypatch.delenv("IDENTITY_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal: no prompt
    assert cli_main(["create-admin", "--email", "boss@vanity.shop"]) == 2
    monkeypatch.setenv("IDENTITY_ADMIN_PASSWORD", "short")
    assert cli_main(["create-admin", "--email", "boss@vanity.shop"]) == 1  # policy applies
    monkeypatch.setenv("IDENTITY_ADMIN_PASSWORD", PASSWORD)
    assert cli_main(["create-admin", "--email", "Boss@Vanity.shop", "--perms", "users,orders"]) == 0

    async def check(service, db):
        async with db.connect() as conn:
            found = await repository.user_with_hash_by_email(conn, "boss@vanity.shop")
        return found[0]

    user = _run(check)
    assert user.roles == {"admin"} and user.permissions == {"users", "orders"}
    pair = _run(lambda service, db: service.login("boss@vanity.shop", PASSWORD, ip="127.0.0.1"))
    assert pair.user.is_admin


def test_seed_creates_a_demo_customer_with_a_generated_password(env, monkeypatch, capsys):
    monkeypatch.setenv("IDENTITY_ENV", "development")
    assert cli_main(["seed"]) == 0
    creds = (env / "demo-credentials.txt").read_text()
    password = creds.split("password: ")[1].strip()
    assert len(password) >= 16 and password in capsys.readouterr().out
    assert (env / "demo-credentials.txt").stat().st_mode & 0o077 == 0
    pair = _run(lambda service, db: service.login("demo@vanity.shop", password, ip="127.0.0.1"))
    assert not pair.user.is_admin
    # idempotent: a second seed keeps the account and prints no password
    assert cli_main(["seed"]) == 0
    assert password not in capsys.readouterr().out
    assert (env / "demo-credentials.txt").read_text() == creds


def test_seed_does_nothing_outside_development(env):
    assert cli_main(["seed"]) == 0  # IDENTITY_ENV=test
    assert not (env / "demo-credentials.txt").exists()


def test_rotate_and_retire_commands(env):
    keys_dir = env / "keys"
    assert cli_main(["jwks"]) == 0
    first = keyfiles.active_key_id(keys_dir)
    assert cli_main(["rotate-keys", "--stage"]) == 0
    assert keyfiles.active_key_id(keys_dir) == first  # staged: published, not signing
    staged = next(
        p.name.removesuffix(".public.pem")
        for p in keys_dir.glob("*.public.pem")
        if not p.name.startswith(first)
    )
    assert cli_main(["rotate-keys", "--activate", staged]) == 0
    assert keyfiles.active_key_id(keys_dir) == staged
    assert cli_main(["retire-keys"]) == 3  # too early: tokens signed by the old key live on
    assert (keys_dir / f"{first}.public.pem").exists()
    assert cli_main(["retire-keys", "--force"]) == 0
    assert not (keys_dir / f"{first}.public.pem").exists()
    assert (keys_dir / f"{staged}.private.pem").exists()
