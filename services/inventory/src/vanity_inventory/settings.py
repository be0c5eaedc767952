from __future__ import annotations

from typing import ClassVar

from vanity_common.settings import ServiceSettings


class InventorySettings(ServiceSettings):
    service_name: ClassVar[str] = "inventory"
    default_http_port: ClassVar[int] = 8003
    default_grpc_port: ClassVar[int] = 50053

    low_stock_threshold: int = 5


def load_settings(**overrides) -> InventorySettings:
    return InventorySettings(**overrides)
