from __future__ import annotations

from typing import ClassVar

from vanity_common.settings import ServiceSettings


class CartSettings(ServiceSettings):
    service_name: ClassVar[str] = "cart"
    default_http_port: ClassVar[int] = 8004
    default_grpc_port: ClassVar[int] = 50054

    # Limits of one cart (CART_MAX_LINES, CART_MAX_QUANTITY_PER_LINE).
    max_lines: int = 50
    max_quantity_per_line: int = 10
    # Deadline of each call to catalog and inventory: a cart read waits at most this long for
    # live prices and stock before answering without them.
    dependency_timeout_s: float = 0.5
    # Guest carts untouched this long are deleted by the beat job (merged ones too).
    guest_cart_ttl_days: float = 30.0
    guest_expiry_interval_s: float = 3600.0
    guest_expiry_batch: int = 500


def load_settings(**overrides) -> CartSettings:
    return CartSettings(**overrides)
