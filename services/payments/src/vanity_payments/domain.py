"""Pure payment rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    VOIDED = "voided"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


@dataclass(frozen=True)
class Payment:
    id: str
    order_id: str
    status: PaymentStatus
    amount_minor: int
    refunded_minor: int
    currency: str
    provider: str
    provider_reference: str | None = None
    failure_reason: str | None = None
