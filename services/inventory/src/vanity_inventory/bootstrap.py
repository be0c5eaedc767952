"""Inventory's composition root: everything its entry points use, built without FastAPI.

The web app (app.py), the gRPC servicer, the Celery tasks (one container per worker process)
and the CLI all call `build_container`; tests pass overrides (a clock, a notifier, a database).
"""

from __future__ import annotations

from dataclasses import dataclass

from vanity_common.bootstrap import Clock, ServiceContainer, utcnow
from vanity_common.db import Database
from vanity_common.outbox import OutboxRelay

from vanity_inventory.service import InventoryService, LowStockNotifier
from vanity_inventory.settings import InventorySettings, load_settings


@dataclass(kw_only=True, eq=False)
class InventoryContainer(ServiceContainer):
    settings: InventorySettings
    inventory: InventoryService

    def outbox_relays(self) -> list[OutboxRelay]:
        # Low-stock notifications (none when they are switched off).
        return [self.inventory.outbox] if self.inventory.outbox is not None else []


def build_container(
    settings: InventorySettings | None = None,
    *,
    clock: Clock = utcnow,
    notifier: LowStockNotifier | None = None,
    db: Database | None = None,
    pool_size: int | None = None,
) -> InventoryContainer:
    settings = settings or load_settings()
    core = InventoryContainer.core(settings, db=db, pool_size=pool_size)
    if notifier is None and settings.low_stock_notifications:
        from vanity_inventory.notifications import CeleryLowStockNotifier

        notifier = CeleryLowStockNotifier(settings)
    inventory = InventoryService(
        core["db"], settings.low_stock_threshold, clock=clock, notifier=notifier
    )
    return InventoryContainer(**core, clock=clock, inventory=inventory)
