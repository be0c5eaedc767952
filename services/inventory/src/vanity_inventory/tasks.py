"""Celery tasks (thin): each runs one use case on the worker's long-lived event loop."""

from __future__ import annotations

from celery import shared_task
from vanity_common.db import Database
from vanity_common.tasks import bridge

from vanity_inventory.notifications import deliver_low_stock
from vanity_inventory.service import InventoryService
from vanity_inventory.settings import load_settings


def _service() -> InventoryService:
    def build() -> InventoryService:
        from vanity_inventory.app import build_service

        settings = load_settings()
        return build_service(Database(settings.database_url, pool_size=4), settings)

    return bridge.resource("inventory.service", build)


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


@shared_task(name="inventory.notify_low_stock")
def notify_low_stock(sku: str, available: int, threshold: int) -> str:
    return str(deliver_low_stock(load_settings(), sku, available, threshold))
