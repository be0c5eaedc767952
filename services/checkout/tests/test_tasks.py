"""Checkout's Celery side: the beat schedule (saga recovery every ~10 s), the registered tasks,
and the order e-mail task run on the worker's container, sent once per message id."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from vanity_common.migrations import migrate
from vanity_testkit import FakeClock

from .saga_fakes import FakeShop


def test_beat_and_tasks_and_the_email_task_sends_once(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}"
    monkeypatch.setenv("CHECKOUT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHECKOUT_DATABASE_URL", url)
    asyncio.run(migrate("vanity_checkout", url))
    from vanity_checkout import tasks, worker
    from vanity_checkout.bootstrap import build_container
    from vanity_checkout.settings import load_settings
    from vanity_common.tasks import bridge

    schedule = {entry["task"]: entry["schedule"] for entry in worker.BEAT_SCHEDULE.values()}
    assert schedule["checkout.recover_sagas"] <= 10
    assert {"checkout.relay_outbox", "checkout.purge_idempotency_keys"} <= set(schedule)
    registered = set(worker.celery_app.tasks.keys())
    assert set(schedule) | {"checkout.send_order_email"} <= registered

    shop = FakeShop.create(FakeClock(datetime.now(UTC)), {}, {})
    bridge._resources.pop("checkout.container", None)
    # The worker's container, with the other services faked (identity answers the address).
    bridge.resource("checkout.container", lambda: build_container(load_settings(), ports=shop))
    try:
        kwargs = {"order_id": "o-1", "user_id": "alice", "kind": "confirmed", "total_minor": 999}
        kwargs["currency"] = "EUR"
        assert tasks.send_order_email.apply(kwargs=kwargs, task_id="m-1").get() is True
        assert tasks.send_order_email.apply(kwargs=kwargs, task_id="m-1").get() is False
        (mail,) = (tmp_path / "mail").glob("*.eml")
        assert "alice@example.com" in mail.read_text()
        assert tasks.recover_sagas.apply().get() == 0  # nothing due on an empty database
        assert tasks.relay_outbox.apply().get() == 0
    finally:
        container = bridge._resources.pop("checkout.container", None)
        if container is not None:
            bridge.run(container.aclose())
