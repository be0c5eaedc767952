"""Celery worker and beat for inventory: `celery -A vanity_inventory.worker worker -B`."""

from __future__ import annotations

from celery import Celery
from vanity_common.tasks import make_celery

from vanity_inventory.settings import InventorySettings, load_settings


def beat_schedule(settings: InventorySettings) -> dict[str, dict]:
    return {
        "inventory-expire-reservations": {
            "task": "inventory.expire_reservations",
            "schedule": settings.expiry_interval_s,
        },
        "inventory-audit-ledger": {
            "task": "inventory.audit_ledger",
            "schedule": settings.audit_interval_s,
        },
        "inventory-sweep-low-stock": {
            "task": "inventory.sweep_low_stock",
            "schedule": settings.low_stock_sweep_interval_s,
        },
    }


def build_celery(settings: InventorySettings) -> Celery:
    return make_celery(
        settings, include=["vanity_inventory.tasks"], beat_schedule=beat_schedule(settings)
    )


settings = load_settings()
BEAT_SCHEDULE = beat_schedule(settings)
celery_app = build_celery(settings)
