from __future__ import annotations

from typing import ClassVar

from vanity_common.settings import ServiceSettings


class CartSettings(ServiceSettings):
    service_name: ClassVar[str] = "cart"
    default_http_port: ClassVar[int] = 8004
    default_grpc_port: ClassVar[int] = 50054

    max_lines: int = 50
    max_quantity_per_line: int = 10


def load_settings(**overrides) -> CartSettings:
    return CartSettings(**overrides)
