"""The reset e-mail leaves identity through its outbox: it survives a Celery worker that is down
(and a broker that is unreachable) when it is requested, and arrives once they are back."""

from __future__ import annotations

import asyncio
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update
from vanity_common.migrations import migrate
from vanity_common.outbox import outbox_table, processed_table, utcnow
from vanity_common.tasks import CelerySender
from vanity_identity.app import create_app

from . import worker_process
from .conftest import PASSWORD
from .worker_process import stop_worker

RESET_TASK = "identity.send_password_reset_email"


@pytest.fixture
async def running(settings_factory):
    """The real app with the real Celery sender (the folder broker under its data dir)."""
    started = []

    async def start(**overrides):
        settings = settings_factory(**overrides)
        await migrate("vanity_identity", settings.database_url)
        app = create_app(settings)
        manager = LifespanManager(app)
        await manager.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://identity"
        )
        started.append((client, manager))
        return app, client, settings

    yield start
    for client, manager in reversed(started):
        await client.aclose()
        await manager.__aexit__(None, None, None)


def mails(data_dir: Path) -> list:
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((data_dir / "mail").glob("*.eml"))
    ]


async def outbox_rows(db) -> list:
    async with db.connect() as conn:
        return (await conn.execute(select(outbox_table))).all()


def start_worker(settings) -> subprocess.Popen:
    """A solo-pool worker, with the cheapest password hashing."""
    return worker_process.start_worker(
        settings,
        ["solo"],
        IDENTITY_ARGON2_TIME_COST="1",
        IDENTITY_ARGON2_MEMORY_COST_KIB="8192",
        IDENTITY_ARGON2_PARALLELISM="1",
    )


async def wait_for_mail(data_dir: Path, worker: subprocess.Popen, timeout: float = 90.0):
    """Polls for the e-mail file (the worker's only visible effect), failing at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not mails(data_dir):
        assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
        assert asyncio.get_running_loop().time() < deadline, "no e-mail from the worker"
        await asyncio.sleep(0.2)
    return mails(data_dir)


async def test_the_reset_email_waits_for_a_worker_that_is_down(running):
    app, client, settings = await running()
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": "ada@example.com", "name": "Ada", "password": PASSWORD},
    )
    assert r.status_code == 201
    r = await client.post("/api/v1/auth/password-reset", json={"email": "ada@example.com"})
    assert r.status_code == 202
    db = app.state.container.db
    [row] = await outbox_rows(db)
    assert (row.topic, row.status) == (RESET_TASK, "sent")  # handed to the broker
    assert mails(settings.data_dir) == []  # no worker yet

    worker = start_worker(settings)
    try:
        [mail] = await wait_for_mail(settings.data_dir, worker)
    finally:
        stop_worker(worker)
    assert mail["To"] == "ada@example.com" and "token=" in mail.get_content()
    assert mail["Message-ID"] == f"<{row.id}@vanity.shop>"
    async with db.connect() as conn:
        consumed = (await conn.execute(select(processed_table.c.message_id))).scalars().all()
    assert consumed == [row.id]


async def test_the_reset_email_survives_an_unreachable_broker(running, tmp_path):
    # Nothing listens on port 1: every send fails, the request still answers 202.
    app, client, settings = await running(celery_broker_url="redis://127.0.0.1:1/0")
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": "bob@example.com", "name": "Bob", "password": PASSWORD},
    )
    assert r.status_code == 201
    r = await client.post("/api/v1/auth/password-reset", json={"email": "bob@example.com"})
    assert r.status_code == 202
    db = app.state.container.db
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error

    # The broker is back (here: the folder broker) and the retry is due: the sweep relays it.
    service = app.state.container.identity
    service.task_sender = CelerySender(settings.model_copy(update={"celery_broker_url": None}))
    async with db.connect(write=True) as conn:
        await conn.execute(update(outbox_table).values(due_at=utcnow()))
    assert await service.outbox.drain() == 1
    worker = start_worker(settings)
    try:
        [mail] = await wait_for_mail(settings.data_dir, worker)
    finally:
        stop_worker(worker)
    assert mail["To"] == "bob@example.com"
