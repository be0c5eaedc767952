"""Checkout keeps Idempotency-Key records (its migration 0003) and its beat job purges them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vanity_checkout import tasks
from vanity_checkout.worker import BEAT_SCHEDULE, celery_app
from vanity_common.idempotency import Claim, IdempotencyStore, StoredResponse
from vanity_common.migrations import migrate
from vanity_common.tasks import AsyncBridge


def test_the_worker_purges_expired_keys_and_keeps_fresh_ones(database_url, tmp_path, monkeypatch):
    worker_bridge = AsyncBridge()  # this test's worker process
    monkeypatch.setattr(tasks, "bridge", worker_bridge)
    monkeypatch.setenv("CHECKOUT_DATABASE_URL", database_url)
    monkeypatch.setenv("CHECKOUT_DATA_DIR", str(tmp_path))
    worker_bridge.run(migrate("vanity_checkout", database_url))
    services = tasks.container()

    async def remember(at: datetime, key: str) -> None:
        store = IdempotencyStore(services.db, clock=lambda: at)
        claim = await store.begin("user:u", key, "f" * 64)
        assert isinstance(claim, Claim)
        assert await store.complete(claim, StoredResponse(201, [], b"{}"))

    now = datetime.now(UTC)
    worker_bridge.run(remember(now - timedelta(hours=25), "old-1"))
    worker_bridge.run(remember(now - timedelta(hours=24, seconds=1), "old-2"))
    worker_bridge.run(remember(now - timedelta(hours=1), "fresh"))
    # Through checkout's own Celery app, as its worker runs it (not whichever app is current).
    purge = celery_app.tasks["checkout.purge_idempotency_keys"]
    try:
        assert purge.apply().get() == 2
        assert purge.apply().get() == 0
        replay = worker_bridge.run(services.idempotency.begin("user:u", "fresh", "f" * 64))
        assert replay == StoredResponse(201, [], b"{}")
    finally:
        worker_bridge.run(services.aclose())
    assert BEAT_SCHEDULE["checkout-purge-idempotency-keys"]["task"] == purge.name
