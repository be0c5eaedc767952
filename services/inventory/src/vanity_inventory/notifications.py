"""Low-stock notifications: the service enqueues `inventory.notify_low_stock`; the task tells
admins (in development: a log event and a line in `<data_dir>/notifications/low-stock.jsonl`)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

from vanity_inventory.settings import InventorySettings

log = logging.getLogger(__name__)

TASK_NAME = "inventory.notify_low_stock"


class CeleryLowStockNotifier:
    """Enqueues the notification task. Publishing is blocking I/O, so it runs in a thread, after
    the stock change committed and outside any transaction."""

    def __init__(self, settings: InventorySettings) -> None:
        self.settings = settings
        self._celery = None

    def _publish(self, sku: str, available: int, threshold: int) -> None:
        if self._celery is None:
            from vanity_inventory.worker import build_celery

            self._celery = build_celery(self.settings)
        self._celery.send_task(TASK_NAME, args=[sku, available, threshold])

    async def __call__(self, sku: str, available: int, threshold: int) -> None:
        await asyncio.to_thread(self._publish, sku, available, threshold)


def deliver_low_stock(settings: InventorySettings, sku: str, available: int, threshold: int):
    """What the task does: today a log event plus a notification file admins' tooling tails."""
    record = {
        "event": "low_stock",
        "sku": sku,
        "available": available,
        "threshold": threshold,
        "at": datetime.now(UTC).isoformat(),
    }
    log.warning("low stock", extra=record)
    folder = settings.data_dir / "notifications"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "low-stock.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    return path
