"""Pure order rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price_minor: int
    currency: str


@dataclass(frozen=True)
class Order:
    id: str
    user_id: str
    status: OrderStatus
    total_minor: int
    currency: str
    created_at: datetime
    lines: tuple[OrderLine, ...] = ()
    payment_id: str | None = None
