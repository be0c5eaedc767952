"""Pure stock rules the service layer applies: validation, stock levels, reservation state
transitions, ledger kinds. No I/O.

The executable specification these rules are checked against (`InventoryModel`) lives with the
property-based tests (tests/inventory_model.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from vanity_common.domain import DomainError, InvalidInput

MIN_TTL_SECONDS = 1
MAX_TTL_SECONDS = 3600
MAX_LINES = 100
MAX_QUANTITY = 1_000_000
MAX_SKU_LENGTH = 64
MAX_ORDER_ID_LENGTH = 64
MAX_REASON_LENGTH = 255


class StockLevel(StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"
    OUT_OF_STOCK = "out_of_stock"


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


class LedgerKind(StrEnum):
    RESTOCK = "restock"
    ADJUSTMENT = "adjustment"
    RESERVE = "reserve"
    RELEASE = "release"
    COMMIT = "commit"
    EXPIRY = "expiry"
    AUDIT_CORRECTION = "audit_correction"


class InsufficientStock(DomainError):
    reason = "INSUFFICIENT_STOCK"

    def __init__(self, skus: list[str]) -> None:
        super().__init__("Not enough stock for: " + ", ".join(skus), skus=skus)
        self.skus = skus


class UnknownSku(DomainError):
    reason = "UNKNOWN_SKU"

    def __init__(self, skus: list[str]) -> None:
        super().__init__("Unknown SKU: " + ", ".join(skus), skus=skus)
        self.skus = skus


class ReservationMismatch(DomainError):
    reason = "RESERVATION_MISMATCH"


class ReservationNotFound(DomainError):
    reason = "RESERVATION_NOT_FOUND"


class ReservationExpired(DomainError):
    reason = "RESERVATION_EXPIRED"


class ReservationReleased(DomainError):
    reason = "RESERVATION_RELEASED"


class ReservationCommitted(DomainError):
    reason = "RESERVATION_COMMITTED"


class BelowReserved(DomainError):
    reason = "BELOW_RESERVED"


# ---------------------------------------------------------------- rules used by the service layer


def stock_level(available: int, low_threshold: int) -> StockLevel:
    if available <= 0:
        return StockLevel.OUT_OF_STOCK
    if available <= low_threshold:
        return StockLevel.LOW
    return StockLevel.IN_STOCK


def crossed_low(before: int, after: int, low_threshold: int) -> bool:
    """True when availability fell from above the threshold to at or below it."""
    return before > low_threshold >= after


def validate_sku(sku: str, field_name: str = "sku") -> str:
    sku = (sku or "").strip()
    if not sku:
        raise InvalidInput(field_name, "SKU is required")
    if len(sku) > MAX_SKU_LENGTH:
        raise InvalidInput(field_name, f"SKU is longer than {MAX_SKU_LENGTH} characters")
    return sku


def validate_order_id(order_id: str) -> str:
    order_id = (order_id or "").strip()
    if not order_id:
        raise InvalidInput("order_id", "order_id is required")
    if len(order_id) > MAX_ORDER_ID_LENGTH:
        raise InvalidInput("order_id", f"order_id is longer than {MAX_ORDER_ID_LENGTH}")
    return order_id


def validate_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "a reason is required")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput("reason", f"reason is longer than {MAX_REASON_LENGTH} characters")
    return reason


def validate_ttl(ttl_seconds: int) -> int:
    if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(
            "ttl_seconds", f"ttl_seconds must be in {MIN_TTL_SECONDS}..{MAX_TTL_SECONDS}"
        )
    return ttl_seconds


def normalise_lines(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Validated lines as {sku: quantity}, sorted by SKU (the lock order); repeated SKUs merge."""
    merged: dict[str, int] = {}
    for index, (sku, quantity) in enumerate(lines):
        sku = validate_sku(sku, f"lines[{index}].sku")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput(f"lines[{index}].quantity", f"quantity must be in 1..{MAX_QUANTITY}")
        merged[sku] = merged.get(sku, 0) + quantity
    if not merged:
        raise InvalidInput("lines", "at least one line is required")
    if len(merged) > MAX_LINES:
        raise InvalidInput("lines", f"at most {MAX_LINES} distinct SKUs")
    return dict(sorted(merged.items()))


class CommitAction(StrEnum):
    COMMIT = "commit"
    ALREADY_COMMITTED = "already_committed"


def decide_commit(status: ReservationStatus, expires_at: datetime, now: datetime) -> CommitAction:
    """Commit is idempotent; an expired reservation (reclaimed or not) is never sold."""
    if status is ReservationStatus.COMMITTED:
        return CommitAction.ALREADY_COMMITTED
    if status is ReservationStatus.RELEASED:
        raise ReservationReleased("The reservation was released; it cannot be committed.")
    if status is ReservationStatus.EXPIRED or expires_at <= now:
        raise ReservationExpired("The reservation expired and its stock was reclaimed.")
    return CommitAction.COMMIT


class ReleaseAction(StrEnum):
    RELEASE = "release"
    EXPIRE = "expire"  # past its expiry time but not reclaimed yet: it expired, say so
    NOTHING = "nothing"


def decide_release(status: ReservationStatus, expires_at: datetime, now: datetime) -> ReleaseAction:
    """Release is idempotent; a sale is not undone by a release (that is a refund/restock)."""
    if status is ReservationStatus.COMMITTED:
        raise ReservationCommitted("The reservation was committed; it cannot be released.")
    if status is ReservationStatus.ACTIVE:
        return ReleaseAction.RELEASE if now < expires_at else ReleaseAction.EXPIRE
    return ReleaseAction.NOTHING


def effective_status(
    status: ReservationStatus, expires_at: datetime, now: datetime
) -> ReservationStatus:
    """What callers see: an active reservation past its expiry time is expired already."""
    if status is ReservationStatus.ACTIVE and expires_at <= now:
        return ReservationStatus.EXPIRED
    return status


def is_counting(status: ReservationStatus, expires_at: datetime, now: datetime) -> bool:
    """Does a reservation hold stock at `now`? Only active ones before their expiry time."""
    return status is ReservationStatus.ACTIVE and now < expires_at
