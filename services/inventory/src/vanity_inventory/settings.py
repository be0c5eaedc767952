from __future__ import annotations

from typing import ClassVar

from vanity_common.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    service_name: ClassVar[str] = "inventory"
    default_http_port: ClassVar[int] = 8003
    default_grpc_port: ClassVar[int] = 50053

    # Availability at or below this (and above zero) is "low": product pages say so and admins
    # are notified once per crossing (INVENTORY_LOW_STOCK_THRESHOLD).
    low_stock_threshold: int = 5
    # Send low-stock notifications through Celery (inventory.notify_low_stock).
    low_stock_notifications: bool = True
    # Beat schedule (seconds) and batch sizes of the jobs.
    expiry_interval_s: float = 30.0
    expiry_batch: int = 1000
    audit_interval_s: float = 600.0
    low_stock_sweep_interval_s: float = 300.0
    # Demo catalogue whose SKUs `seed` stocks (relative paths are from the repository root).
    demo_catalog_path: str = "deploy/demo/catalog.json"


def load_settings(**overrides) -> InventorySettings:
    return InventorySettings(**overrides)
