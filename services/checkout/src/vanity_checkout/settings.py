from __future__ import annotations

from typing import ClassVar

from vanity_common.settings import ServiceSettings


class CheckoutSettings(ServiceSettings):
    service_name: ClassVar[str] = "checkout"
    default_http_port: ClassVar[int] = 8005
    default_grpc_port: ClassVar[int] = 50055

    reservation_ttl_seconds: int = 900


def load_settings(**overrides) -> CheckoutSettings:
    return CheckoutSettings(**overrides)
