"""Low-stock notifications: the service writes `inventory.notify_low_stock` to its outbox, the
relay sends the task, and the task tells admins (in development: a log event and a line in
`<data_dir>/notifications/low-stock.jsonl`), once per message id."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from vanity_common.outbox import OutboxMessage
from vanity_common.tasks import CelerySender

from vanity_inventory.settings import InventorySettings

log = logging.getLogger(__name__)

TASK_NAME = "inventory.notify_low_stock"


class CeleryLowStockNotifier:
    """Sends the notification task through the chassis' one Celery sender. The outbox relay
    hands it the message (`deliver`), so the task id is the outbox message id and the task
    dedupes redeliveries on it."""

    def __init__(self, settings: InventorySettings) -> None:
        self.settings = settings
        self._sender: CelerySender | None = None

    @property
    def sender(self) -> CelerySender:
        if self._sender is None:
            self._sender = CelerySender(self.settings)
        return self._sender

    async def deliver(self, message: OutboxMessage) -> None:
        await self.sender.deliver(message)

    async def __call__(self, sku: str, available: int, threshold: int) -> None:
        await self.sender.send(TASK_NAME, [sku, available, threshold])


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
