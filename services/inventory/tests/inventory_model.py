"""`InventoryModel`: the whole inventory in memory (stock, reservations with expiry, ledger),
an executable specification following the same rules (vanity_inventory.domain) as the SQL
implementation. The property-based tests drive both with the same random operations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from vanity_inventory.domain import (
    BelowReserved,
    CommitAction,
    InsufficientStock,
    LedgerKind,
    ReleaseAction,
    ReservationExpired,
    ReservationMismatch,
    ReservationNotFound,
    ReservationStatus,
    UnknownSku,
    decide_commit,
    decide_release,
    is_counting,
)


@dataclass(frozen=True)
class Stock:
    on_hand: int = 0
    reserved: int = 0  # active reservation lines, reclaimed or not

    def __post_init__(self) -> None:
        if self.on_hand < 0 or self.reserved < 0 or self.reserved > self.on_hand:
            raise AssertionError(f"impossible stock {self}")


@dataclass(frozen=True)
class LedgerEntry:
    sku: str
    kind: LedgerKind
    delta_on_hand: int
    delta_reserved: int
    on_hand_after: int
    reserved_after: int
    order_id: str | None = None


@dataclass
class ModelReservation:
    order_id: str
    lines: dict[str, int]
    expires_at: datetime
    status: ReservationStatus = ReservationStatus.ACTIVE


@dataclass
class InventoryModel:
    """The whole inventory in memory, following the same rules as the SQL implementation."""

    stock: dict[str, Stock] = field(default_factory=dict)
    reservations: dict[str, ModelReservation] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)

    # -- helpers
    def _apply(self, sku, kind, d_on_hand, d_reserved, order_id=None) -> None:
        current = self.stock[sku]
        new = replace(
            current, on_hand=current.on_hand + d_on_hand, reserved=current.reserved + d_reserved
        )
        self.stock[sku] = new
        self.ledger.append(
            LedgerEntry(sku, kind, d_on_hand, d_reserved, new.on_hand, new.reserved, order_id)
        )

    def available(self, sku: str, now: datetime) -> int:
        """On hand minus active reservations that have not reached their expiry time."""
        held = sum(
            r.lines.get(sku, 0)
            for r in self.reservations.values()
            if is_counting(r.status, r.expires_at, now)
        )
        return self.stock[sku].on_hand - held

    def _expire(self, reservation: ModelReservation) -> None:
        reservation.status = ReservationStatus.EXPIRED
        for sku, qty in reservation.lines.items():
            self._apply(sku, LedgerKind.EXPIRY, 0, -qty, reservation.order_id)

    def reclaim(self, skus: Iterable[str], now: datetime) -> int:
        wanted = set(skus)
        due = [
            r
            for r in self.reservations.values()
            if r.status is ReservationStatus.ACTIVE
            and r.expires_at <= now
            and wanted.intersection(r.lines)
        ]
        for r in due:
            self._expire(r)
        return len(due)

    # -- use cases
    def restock(self, sku: str, quantity: int) -> None:
        self.stock.setdefault(sku, Stock())
        self._apply(sku, LedgerKind.RESTOCK, quantity, 0)

    def adjust(self, sku: str, delta: int, now: datetime) -> None:
        self.reclaim([sku], now)
        s = self.stock[sku]
        if s.on_hand + delta < s.reserved:
            raise BelowReserved("adjustment would leave less on hand than reserved")
        self._apply(sku, LedgerKind.ADJUSTMENT, delta, 0)

    def reserve(self, order_id: str, lines: dict[str, int], ttl: int, now: datetime):
        existing = self.reservations.get(order_id)
        if existing is not None:
            if existing.lines != lines:
                raise ReservationMismatch("order already holds a different reservation")
            return existing
        unknown = [sku for sku in lines if sku not in self.stock]
        if unknown:
            raise UnknownSku(unknown)
        self.reclaim(lines, now)
        short = [sku for sku, q in lines.items() if self.available(sku, now) < q]
        if short:
            raise InsufficientStock(short)
        reservation = ModelReservation(order_id, dict(lines), now + timedelta(seconds=ttl))
        self.reservations[order_id] = reservation
        for sku, qty in lines.items():
            self._apply(sku, LedgerKind.RESERVE, 0, qty, order_id)
        return reservation

    def commit(self, order_id: str, now: datetime):
        reservation = self.reservations.get(order_id)
        if reservation is None:
            raise ReservationNotFound("no reservation for this order")
        try:
            action = decide_commit(reservation.status, reservation.expires_at, now)
        except ReservationExpired:
            if reservation.status is ReservationStatus.ACTIVE:
                self._expire(reservation)
            raise
        if action is CommitAction.COMMIT:
            reservation.status = ReservationStatus.COMMITTED
            for sku, qty in reservation.lines.items():
                self._apply(sku, LedgerKind.COMMIT, -qty, -qty, order_id)
        return reservation

    def release(self, order_id: str, now: datetime):
        reservation = self.reservations.get(order_id)
        if reservation is None:
            return None
        action = decide_release(reservation.status, reservation.expires_at, now)
        if action is ReleaseAction.RELEASE:
            reservation.status = ReservationStatus.RELEASED
            for sku, qty in reservation.lines.items():
                self._apply(sku, LedgerKind.RELEASE, 0, -qty, order_id)
        elif action is ReleaseAction.EXPIRE:
            self._expire(reservation)
        return reservation

    def expire_due(self, now: datetime) -> int:
        due = [
            r
            for r in self.reservations.values()
            if r.status is ReservationStatus.ACTIVE and r.expires_at <= now
        ]
        for r in due:
            self._expire(r)
        return len(due)

    # -- invariants
    def check_invariants(self, now: datetime) -> None:
        for sku, s in self.stock.items():
            assert 0 <= s.reserved <= s.on_hand, (sku, s)
            active = sum(
                r.lines.get(sku, 0)
                for r in self.reservations.values()
                if r.status is ReservationStatus.ACTIVE
            )
            assert s.reserved == active, (sku, s, active)
            entries = [e for e in self.ledger if e.sku == sku]
            assert sum(e.delta_on_hand for e in entries) == s.on_hand, sku
            assert sum(e.delta_reserved for e in entries) == s.reserved, sku
            if entries:
                assert (entries[-1].on_hand_after, entries[-1].reserved_after) == (
                    s.on_hand,
                    s.reserved,
                )
            assert 0 <= self.available(sku, now) <= s.on_hand, sku
