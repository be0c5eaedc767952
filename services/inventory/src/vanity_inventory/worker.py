"""Celery worker and beat for inventory: `celery -A vanity_inventory.worker worker -B`."""

from __future__ import annotations

from vanity_common.tasks import make_celery, run_every

from vanity_inventory.settings import InventorySettings, load_settings


def beat_schedule(settings: InventorySettings) -> dict[str, dict]:
    return run_every(
        {
            "inventory.expire_reservations": settings.expiry_interval_s,
            "inventory.audit_ledger": settings.audit_interval_s,
            "inventory.sweep_low_stock": settings.low_stock_sweep_interval_s,
        }
    )


settings = load_settings()
BEAT_SCHEDULE = beat_schedule(settings)
celery_app = make_celery(settings, include=["vanity_inventory.tasks"], beat_schedule=BEAT_SCHEDULE)
