"""Celery tasks (thin): each runs one use case on the worker's long-lived event loop."""

from __future__ import annotations

import asyncio

from celery import shared_task
from vanity_common.outbox import once_per_message
from vanity_common.tasks import bridge, reliable_task

from vanity_inventory.bootstrap import InventoryContainer, build_container
from vanity_inventory.notifications import deliver_low_stock
from vanity_inventory.service import InventoryService
from vanity_inventory.settings import load_settings


def container() -> InventoryContainer:
    """One container per worker process, living on the bridge's event loop."""
    return bridge.resource(
        "inventory.container", lambda: build_container(load_settings(), pool_size=4)
    )


def _service() -> InventoryService:
    return container().inventory


@shared_task(name="inventory.expire_reservations")
def expire_reservations(limit: int | None = None) -> int:
    service = _service()
    return bridge.run(service.expire_due(limit or load_settings().expiry_batch))


@shared_task(name="inventory.audit_ledger")
def audit_ledger() -> dict:
    report = bridge.run(_service().audit())
    return {"skus_checked": report.skus_checked, "drift": [d.__dict__ for d in report.drift]}


@shared_task(name="inventory.sweep_low_stock")
def sweep_low_stock() -> int:
    return bridge.run(_service().sweep_low_stock())


@reliable_task("inventory.notify_low_stock", bind=True)
def notify_low_stock(self, sku: str, available: int, threshold: int) -> bool:
    """Sent by the outbox relay with the message id as task id: a redelivery is skipped."""
    deps = container()

    async def tell_admins() -> None:
        await asyncio.to_thread(deliver_low_stock, deps.settings, sku, available, threshold)

    return bridge.run(once_per_message(deps.db, self.name, self.request.id, tell_admins))
