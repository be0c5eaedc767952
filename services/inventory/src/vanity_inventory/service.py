"""Inventory use cases, callable from REST, gRPC and tasks alike (one short transaction each).

Locking protocol (MariaDB; SQLite serialises writers with BEGIN IMMEDIATE instead):
- a transaction touching a reservation locks the reservation row first (a new row for Reserve,
  `SELECT ... FOR UPDATE` / a conditional UPDATE for Commit, Release and expiry), then the stock
  rows of its lines in ascending SKU order, each with one conditional relative UPDATE;
- no network call and no wait for another transaction's result happens while locks are held;
- deadlocks and lock-wait timeouts re-run the whole transaction (the chassis unit of work,
  `db.write`).

Expiry: an expired reservation stops counting at its expiry time because every availability
read adds back active lines whose `expires_at` has passed. Reserve tries its conditional UPDATEs
first; if one fails, it reclaims the expired reservations holding those SKUs (each in its own
short transaction) and tries once more. The beat job reclaims the rest.

Low stock: the transaction that claims a SKU's one notification per crossing
(`low_stock_alerted_at`) also writes the notification to the outbox, so a claimed notification
can no longer be lost; it is delivered right after the commit, and the beat sweep retries
failed deliveries (backoff, then parked as dead) and claims crossings a crash left unclaimed.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from vanity_common.clock import utcnow
from vanity_common.db import Database
from vanity_common.errors import (
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    ServiceError,
)
from vanity_common.outbox import OutboxMessage, OutboxRelay
from vanity_common.types import distinct_skus

from vanity_inventory import domain, metrics
from vanity_inventory import repository as repo
from vanity_inventory.domain import (
    DomainError,
    LedgerKind,
    ReservationStatus,
    StockLevel,
    stock_level,
)

log = logging.getLogger(__name__)

MAX_SKUS_PER_QUERY = 200
MAX_PAGE = 200

Clock = Callable[[], datetime]
# notifier(sku, available, threshold): tells admins a SKU runs low. The outbox relay calls it
# after the claim committed; a notifier with a `deliver(message)` method (the Celery one) gets
# the outbox message itself, so its task id is the message id and the task can dedupe on it.
LowStockNotifier = Callable[[str, int, int], Awaitable[None] | None]
LOW_STOCK_TOPIC = "inventory.notify_low_stock"  # the Celery task's name


@dataclass(frozen=True)
class Availability:
    sku: str
    known: bool
    available: int
    level: StockLevel


@dataclass(frozen=True)
class ReservationView:
    reservation_id: str
    order_id: str
    status: ReservationStatus  # effective: an active reservation past expiry reads as expired
    lines: dict[str, int]
    expires_at: datetime | None


@dataclass(frozen=True)
class StockView:
    sku: str
    on_hand: int
    reserved: int
    available: int
    level: StockLevel
    updated_at: datetime


@dataclass(frozen=True)
class Drift:
    sku: str
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int
    active_lines: int


@dataclass
class AuditReport:
    skus_checked: int
    drift: list[Drift] = field(default_factory=list)


class _Short(Exception):
    """A conditional UPDATE found too little stock; the transaction rolls back."""

    def __init__(self, sku: str) -> None:
        self.sku = sku


_REASON_ERRORS: dict[type[DomainError], Callable[[DomainError], ServiceError]] = {
    domain.InsufficientStock: lambda e: FailedPrecondition(str(e), reason=e.reason),
    domain.UnknownSku: lambda e: NotFound(str(e), reason=e.reason),
    domain.ReservationMismatch: lambda e: Conflict(str(e), reason=e.reason),
    domain.ReservationNotFound: lambda e: NotFound(str(e), reason=e.reason),
    domain.ReservationExpired: lambda e: FailedPrecondition(str(e), reason=e.reason),
    domain.ReservationReleased: lambda e: FailedPrecondition(str(e), reason=e.reason),
    domain.ReservationCommitted: lambda e: FailedPrecondition(str(e), reason=e.reason),
    domain.BelowReserved: lambda e: FailedPrecondition(str(e), reason=e.reason),
}


@contextmanager
def _translated():
    """Domain errors become the chassis errors every entry point knows how to render."""
    try:
        yield
    except domain.InvalidInput as exc:
        raise InvalidArgument(str(exc), errors=[FieldError(exc.field, str(exc))]) from exc
    except DomainError as exc:
        raise _REASON_ERRORS[type(exc)](exc) from exc


async def _return_units(
    conn: AsyncConnection,
    row: repo.ReservationRow,
    kind: LedgerKind,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    """Gives a released or expired reservation's units back and writes its ledger rows, in the
    caller's transaction (which already won the reservation's status change)."""
    for sku, qty in row.lines.items():
        await repo.unreserve_units(conn, sku, qty, now)
    await repo.write_ledger(
        conn,
        kind,
        {sku: (0, -qty) for sku, qty in row.lines.items()},
        reason=reason,
        actor=actor,
        now=now,
        order_id=row.order_id,
        reservation_id=row.id,
    )


class InventoryService:
    def __init__(
        self,
        db: Database,
        low_stock_threshold: int,
        *,
        clock: Clock = utcnow,
        notifier: LowStockNotifier | None = None,
        write_attempts: int = 8,
    ) -> None:
        self.db = db
        self.low_stock_threshold = low_stock_threshold
        self.clock = clock
        self.notifier = notifier
        self.write_attempts = write_attempts
        self.outbox = (
            OutboxRelay(db, {LOW_STOCK_TOPIC: self._deliver_low_stock}, service="inventory")
            if notifier is not None
            else None
        )

    # ------------------------------------------------------------------------ plumbing

    async def _write(self, work: Callable[[AsyncConnection], Awaitable]):
        """`work(conn)` in the chassis unit of work (re-run from the start on deadlock)."""
        return await self.db.write(
            lambda uow: work(uow.conn),
            attempts=self.write_attempts,
            on_retry=metrics.TX_RETRIES.inc,
        )

    def _view(self, row: repo.ReservationRow, now: datetime) -> ReservationView:
        return ReservationView(
            row.id,
            row.order_id,
            domain.effective_status(row.status, row.expires_at, now),
            dict(row.lines),
            row.expires_at,
        )

    # ----------------------------------------------------------------- public reads

    async def availability(self, skus: Sequence[str]) -> list[Availability]:
        unique = distinct_skus(skus, field="sku", limit=MAX_SKUS_PER_QUERY)
        async with self.db.connect() as conn:
            found = {r.sku: r for r in await repo.stock_rows(conn, unique, self.clock())}
        out = []
        for sku in unique:
            available = max(found[sku].available, 0) if sku in found else 0
            out.append(
                Availability(
                    sku, sku in found, available, stock_level(available, self.low_stock_threshold)
                )
            )
        return out

    # ------------------------------------------------------------------ reservations

    async def reserve(
        self, order_id: str, lines: Iterable[tuple[str, int]], ttl_seconds: int, *, actor="checkout"
    ) -> ReservationView:
        with _translated():
            order_id = domain.validate_order_id(order_id)
            wanted = domain.normalise_lines(lines)
            ttl = domain.validate_ttl(ttl_seconds)
        reclaimed = False
        for _ in range(3):
            now = self.clock()
            reservation_id = uuid.uuid4().hex
            expires_at = now + timedelta(seconds=ttl)

            async def work(conn: AsyncConnection, now=now, rid=reservation_id, exp=expires_at):
                await repo.insert_reservation(
                    conn,
                    reservation_id=rid,
                    order_id=order_id,
                    lines=wanted,
                    expires_at=exp,
                    now=now,
                )
                for sku, qty in wanted.items():  # ascending SKU order: the lock order
                    if not await repo.try_reserve_units(conn, sku, qty, now):
                        raise _Short(sku)
                await repo.write_ledger(
                    conn,
                    LedgerKind.RESERVE,
                    {sku: (0, qty) for sku, qty in wanted.items()},
                    reason="reserved for order",
                    actor=actor,
                    now=now,
                    order_id=order_id,
                    reservation_id=rid,
                )

            try:
                await self._write(work)
            except _Short as short:
                if not reclaimed:
                    reclaimed = True
                    if await self._reclaim(list(wanted), now):
                        continue
                await self._raise_shortage(wanted, short.sku, now)
                continue  # the shortage vanished meanwhile (a release): try again
            except IntegrityError:
                existing = await self._reservation(order_id)
                if existing is None:
                    raise
                if existing.lines != wanted:
                    metrics.RESERVATIONS.labels("mismatch").inc()
                    raise Conflict(
                        "This order already holds a reservation with other lines.",
                        reason="RESERVATION_MISMATCH",
                    ) from None
                metrics.RESERVATIONS.labels("replayed").inc()
                return self._view(existing, self.clock())
            metrics.RESERVATIONS.labels("reserved").inc()
            await self._check_low_stock(list(wanted))
            return ReservationView(
                reservation_id, order_id, ReservationStatus.ACTIVE, dict(wanted), expires_at
            )
        metrics.RESERVATIONS.labels("insufficient").inc()
        raise FailedPrecondition(
            "Not enough stock for: " + ", ".join(wanted), reason="INSUFFICIENT_STOCK"
        )

    async def _raise_shortage(self, wanted: dict[str, int], failed_sku: str, now: datetime):
        async with self.db.connect() as conn:
            rows = {r.sku: r for r in await repo.stock_rows(conn, list(wanted), now)}
        with _translated():
            unknown = [sku for sku in wanted if sku not in rows]
            if unknown:
                metrics.RESERVATIONS.labels("unknown_sku").inc()
                raise domain.UnknownSku(unknown)
            short = [sku for sku, qty in wanted.items() if rows[sku].available < qty]
            if short:
                metrics.RESERVATIONS.labels("insufficient").inc()
                raise domain.InsufficientStock(short)

    async def _reservation(self, order_id: str) -> repo.ReservationRow | None:
        async with self.db.connect() as conn:
            return await repo.reservation_by_order(conn, order_id)

    async def get_reservation(self, order_id: str) -> ReservationView:
        with _translated():
            order_id = domain.validate_order_id(order_id)
            row = await self._reservation(order_id)
            if row is None:
                raise domain.ReservationNotFound("No reservation for this order.")
        return self._view(row, self.clock())

    async def commit(self, order_id: str, *, actor: str = "checkout") -> ReservationView:
        with _translated():
            order_id = domain.validate_order_id(order_id)
        now = self.clock()

        async def work(conn: AsyncConnection) -> repo.ReservationRow:
            row = await repo.reservation_by_order(conn, order_id, for_update=True)
            if row is None:
                raise domain.ReservationNotFound("No reservation for this order.")
            if domain.decide_commit(row.status, row.expires_at, now) is (
                domain.CommitAction.ALREADY_COMMITTED
            ):
                return row
            await repo.set_reservation_status(conn, row.id, ReservationStatus.COMMITTED, now)
            for sku, qty in row.lines.items():  # ascending SKU order
                await repo.sell_units(conn, sku, qty, now)
            await repo.write_ledger(
                conn,
                LedgerKind.COMMIT,
                {sku: (-qty, -qty) for sku, qty in row.lines.items()},
                reason="order committed",
                actor=actor,
                now=now,
                order_id=order_id,
                reservation_id=row.id,
            )
            metrics.COMMITS.labels("committed").inc()
            return repo.ReservationRow(
                row.id, row.order_id, ReservationStatus.COMMITTED, row.expires_at, row.lines
            )

        try:
            with _translated():
                row = await self._write(work)
        except FailedPrecondition as exc:
            metrics.COMMITS.labels(exc.reason.lower()).inc()
            if exc.reason == "RESERVATION_EXPIRED":
                await self._reclaim_order(order_id, now)
            raise
        return self._view(row, now)

    async def restock(
        self, order_id: str, reason: str = "", *, actor: str = "checkout"
    ) -> ReservationView:
        """A committed order was cancelled: its units go back on hand, once (the reservation row
        is locked, and a RESTOCK ledger row naming the order marks it done)."""
        with _translated():
            order_id = domain.validate_order_id(order_id)
        reason = (reason or "").strip()[:200] or "order cancelled"
        now = self.clock()

        async def work(conn: AsyncConnection) -> repo.ReservationRow:
            row = await repo.reservation_by_order(conn, order_id, for_update=True)
            if row is None:
                raise domain.ReservationNotFound("No reservation for this order.")
            if row.status is not ReservationStatus.COMMITTED:
                raise FailedPrecondition(
                    "Only a committed reservation can be restocked; release it instead.",
                    reason="RESERVATION_NOT_COMMITTED",
                )
            if await repo.restocked(conn, order_id):
                return row
            for sku, qty in row.lines.items():  # ascending SKU order
                await repo.adjust_on_hand(conn, sku, qty, now, self.low_stock_threshold)
            await repo.write_ledger(
                conn,
                LedgerKind.RESTOCK,
                {sku: (qty, 0) for sku, qty in row.lines.items()},
                reason=reason,
                actor=actor,
                now=now,
                order_id=order_id,
                reservation_id=row.id,
            )
            return row

        with _translated():
            row = await self._write(work)
        metrics.ADJUSTMENTS.labels(LedgerKind.RESTOCK.value).inc()
        return self._view(row, now)

    async def release(
        self, order_id: str, reason: str = "", *, actor: str = "checkout"
    ) -> ReservationView:
        with _translated():
            order_id = domain.validate_order_id(order_id)
        reason = (reason or "").strip()[:200] or "released"
        now = self.clock()

        async def work(conn: AsyncConnection) -> ReservationView:
            row = await repo.reservation_by_order(conn, order_id, for_update=True)
            if row is None:  # nothing was ever reserved: a no-op (see inventory.proto)
                return ReservationView("", order_id, ReservationStatus.RELEASED, {}, None)
            action = domain.decide_release(row.status, row.expires_at, now)
            if action is domain.ReleaseAction.NOTHING:
                return self._view(row, now)
            if action is domain.ReleaseAction.EXPIRE:
                await self._expire_locked(conn, row, now, actor="system:expiry")
                status = ReservationStatus.EXPIRED
            else:
                await repo.set_reservation_status(
                    conn, row.id, ReservationStatus.RELEASED, now, reason=reason
                )
                await _return_units(
                    conn, row, LedgerKind.RELEASE, f"released: {reason}", actor, now
                )
                status = ReservationStatus.RELEASED
            return ReservationView(row.id, order_id, status, dict(row.lines), row.expires_at)

        with _translated():
            return await self._write(work)

    # --------------------------------------------------------------------------- expiry

    async def _expire_locked(
        self, conn: AsyncConnection, row: repo.ReservationRow, now: datetime, actor: str
    ) -> bool:
        if not await repo.set_reservation_status(
            conn, row.id, ReservationStatus.EXPIRED, now, reason="expired", only_if_due=True
        ):
            return False
        await _return_units(conn, row, LedgerKind.EXPIRY, "reservation expired", actor, now)
        metrics.EXPIRED.inc()
        return True

    async def _expire_one(self, reservation_id: str, now: datetime, actor: str) -> bool:
        async def work(conn: AsyncConnection) -> bool:
            # The conditional UPDATE locks the reservation row first (the lock order), and
            # only one transaction can win it.
            if not await repo.set_reservation_status(
                conn,
                reservation_id,
                ReservationStatus.EXPIRED,
                now,
                reason="expired",
                only_if_due=True,
            ):
                return False
            row = await repo.reservation_by_id(conn, reservation_id)
            await _return_units(conn, row, LedgerKind.EXPIRY, "reservation expired", actor, now)
            metrics.EXPIRED.inc()
            return True

        return await self._write(work)

    async def _reclaim(self, skus: Sequence[str], now: datetime) -> int:
        """Expires the reservations holding these SKUs past their expiry time."""
        async with self.db.connect() as conn:
            ids = await repo.expired_reservation_ids_for_skus(conn, skus, now)
        count = 0
        for reservation_id in ids:
            count += await self._expire_one(reservation_id, now, "system:reclaim")
        return count

    async def _reclaim_order(self, order_id: str, now: datetime) -> None:
        row = await self._reservation(order_id)
        if row is not None and row.status is ReservationStatus.ACTIVE:
            await self._expire_one(row.id, now, "system:reclaim")

    async def expire_due(self, limit: int = 1000) -> int:
        """The beat job: marks every reservation past its expiry time expired (ledger rows)."""
        now = self.clock()
        async with self.db.connect() as conn:
            ids = await repo.due_reservation_ids(conn, now, limit)
        count = 0
        for reservation_id in ids:
            count += await self._expire_one(reservation_id, now, "system:expiry")
        if count:
            log.info("expired reservations", extra={"count": count})
        return count

    # ---------------------------------------------------------------------- low stock

    async def _check_low_stock(self, skus: Sequence[str]) -> None:
        """After a change: one notification per SKU each time it falls to the threshold."""
        if self.notifier is None:
            return
        now = self.clock()
        async with self.db.connect() as conn:
            rows = await repo.low_stock_candidates(conn, now, self.low_stock_threshold, skus)
        for sku, available in rows:
            await self._claim_and_notify(sku, available, now)

    async def _claim_and_notify(self, sku: str, available: int, now: datetime) -> bool:
        threshold = self.low_stock_threshold

        async def work(uow) -> str | None:
            if not await repo.mark_low_stock_alerted(uow.conn, sku, now):
                return None
            return await uow.enqueue_task(LOW_STOCK_TOPIC, sku, available, threshold)

        message_id = await self.db.write(work, attempts=self.write_attempts)
        if message_id is None:
            return False
        metrics.LOW_STOCK_NOTIFICATIONS.inc()
        # Delivered now; a failure stays in the outbox for the sweep (never undoes the change).
        await self.outbox.deliver([message_id])
        return True

    async def _deliver_low_stock(self, message: OutboxMessage) -> None:
        deliver = getattr(self.notifier, "deliver", None)
        if deliver is not None:
            await deliver(message)
            return
        result = self.notifier(*message.payload["args"])
        if inspect.isawaitable(result):
            await result

    async def sweep_low_stock(self, limit: int = 500) -> int:
        """Beat safety net: retries notifications whose delivery failed (due ones), and
        notifies SKUs that are low but were never claimed (the process stopped between the
        change and the claim). Returns the number of new claims."""
        if self.notifier is None:
            return 0
        await self.outbox.drain()
        now = self.clock()
        async with self.db.connect() as conn:
            rows = await repo.low_stock_candidates(
                conn, now, self.low_stock_threshold, None, limit=limit
            )
        sent = 0
        for sku, available in rows:
            sent += await self._claim_and_notify(sku, available, now)
        return sent

    # -------------------------------------------------------------------------- admin

    def _stock_view(self, row: repo.StockRow) -> StockView:
        return StockView(
            row.sku,
            row.on_hand,
            row.reserved,
            row.available,
            stock_level(row.available, self.low_stock_threshold),
            row.updated_at,
        )

    async def list_stock(
        self, *, low: bool = False, after: str | None = None, limit: int = 50, prefix=None
    ) -> list[StockView]:
        limit = max(1, min(limit, MAX_PAGE))
        async with self.db.connect() as conn:
            rows = await repo.list_stock(
                conn,
                self.clock(),
                after_sku=after,
                limit=limit,
                low_threshold=self.low_stock_threshold if low else None,
                prefix=prefix,
            )
        return [self._stock_view(r) for r in rows]

    async def get_stock(self, sku: str) -> StockView:
        with _translated():
            sku = domain.validate_sku(sku)
        async with self.db.connect() as conn:
            rows = await repo.stock_rows(conn, [sku], self.clock())
        if not rows:
            raise NotFound(f"Unknown SKU: {sku}", reason="UNKNOWN_SKU")
        return self._stock_view(rows[0])

    async def adjust_stock(
        self,
        sku: str,
        delta: int,
        reason: str,
        *,
        actor: str,
        kind: LedgerKind = LedgerKind.ADJUSTMENT,
    ) -> StockView:
        with _translated():
            sku = domain.validate_sku(sku)
            reason = domain.validate_reason(reason)
            if delta == 0:
                raise domain.InvalidInput("delta", "delta must not be zero")
            if kind not in (LedgerKind.ADJUSTMENT, LedgerKind.RESTOCK):
                raise domain.InvalidInput("kind", "kind must be adjustment or restock")
            if kind is LedgerKind.RESTOCK and delta < 0:
                raise domain.InvalidInput("delta", "a restock adds stock (delta > 0)")
        now = self.clock()
        if delta < 0:
            await self._reclaim([sku], now)

        async def work(conn: AsyncConnection) -> None:
            if not await repo.adjust_on_hand(conn, sku, delta, now, self.low_stock_threshold):
                if await repo.lock_stock(conn, sku) is None:
                    raise domain.UnknownSku([sku])
                raise domain.BelowReserved(
                    "The adjustment would leave fewer units on hand than are reserved."
                )
            await repo.write_ledger(
                conn, kind, {sku: (delta, 0)}, reason=reason, actor=actor, now=now
            )

        with _translated():
            await self._write(work)
        metrics.ADJUSTMENTS.labels(kind.value).inc()
        await self._check_low_stock([sku])
        return await self.get_stock(sku)

    async def set_stock(self, sku: str, on_hand: int, reason: str, *, actor: str) -> StockView:
        with _translated():
            sku = domain.validate_sku(sku)
            reason = domain.validate_reason(reason)
            if not 0 <= on_hand <= 1_000_000_000:
                raise domain.InvalidInput("on_hand", "on_hand must be in 0..1000000000")
        now = self.clock()
        await self._reclaim([sku], now)

        async def work(conn: AsyncConnection) -> None:
            current = await repo.lock_stock(conn, sku)  # locked: the delta below is exact
            if current is None:
                await repo.insert_stock(conn, sku, on_hand, now)
                if on_hand:
                    await repo.write_ledger(
                        conn,
                        LedgerKind.RESTOCK,
                        {sku: (on_hand, 0)},
                        reason=reason,
                        actor=actor,
                        now=now,
                    )
                return
            if not await repo.set_on_hand(conn, sku, on_hand, now, self.low_stock_threshold):
                raise domain.BelowReserved("Cannot set on hand below the reserved units.")
            delta = on_hand - int(current.on_hand)
            if delta:
                await repo.write_ledger(
                    conn,
                    LedgerKind.ADJUSTMENT,
                    {sku: (delta, 0)},
                    reason=reason,
                    actor=actor,
                    now=now,
                )

        with _translated():
            try:
                await self._write(work)
            except IntegrityError:  # created concurrently by another admin: now it exists
                await self._write(work)
        metrics.ADJUSTMENTS.labels("set").inc()
        await self._check_low_stock([sku])
        return await self.get_stock(sku)

    async def ledger(
        self, sku: str, *, before_id: int | None = None, limit: int = 50
    ) -> list[repo.LedgerRow]:
        with _translated():
            sku = domain.validate_sku(sku)
        limit = max(1, min(limit, MAX_PAGE))
        async with self.db.connect() as conn:
            if not await repo.existing_skus(conn, [sku]):
                raise NotFound(f"Unknown SKU: {sku}", reason="UNKNOWN_SKU")
            return await repo.ledger_page(conn, sku, before_id=before_id, limit=limit)

    # -------------------------------------------------------------------------- audit

    async def audit(self) -> AuditReport:
        """Recomputes every balance from the ledger and from the active reservation lines, in
        one consistent snapshot. Drift is reported (metric + log event), never corrected."""
        async with self.db.engine.connect() as conn:
            if not self.db.is_sqlite:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                balances = await repo.all_balances(conn)
                sums = await repo.ledger_sums(conn)
                lines = await repo.active_line_sums(conn)
        report = AuditReport(skus_checked=len(balances))
        for sku in sorted(set(balances) | set(sums) | set(lines)):
            on_hand, reserved = balances.get(sku, (0, 0))
            ledger_on_hand, ledger_reserved = sums.get(sku, (0, 0))
            active = lines.get(sku, 0)
            if (on_hand, reserved) != (ledger_on_hand, ledger_reserved) or reserved != active:
                drift = Drift(sku, on_hand, reserved, ledger_on_hand, ledger_reserved, active)
                report.drift.append(drift)
                log.error(
                    "inventory ledger drift", extra={"event": "ledger_drift", **drift.__dict__}
                )
        metrics.LEDGER_DRIFT_SKUS.set(len(report.drift))
        metrics.AUDIT_RUNS.labels("drift" if report.drift else "clean").inc()
        log.info(
            "inventory audit finished",
            extra={"skus_checked": report.skus_checked, "drift_skus": len(report.drift)},
        )
        return report

    async def correct_from_audit(self, sku: str, reason: str, *, actor: str) -> Drift | None:
        """An explicit, admin-approved correction: one `audit_correction` ledger row bringing
        the ledger in line with the counted stock. Changes no stock; None when nothing drifts."""
        with _translated():
            sku = domain.validate_sku(sku)
            reason = domain.validate_reason(reason)
        now = self.clock()

        async def work(conn: AsyncConnection) -> Drift | None:
            current = await repo.lock_stock(conn, sku)
            if current is None:
                raise domain.UnknownSku([sku])
            ledger_on_hand, ledger_reserved = (await repo.ledger_sums(conn, sku)).get(sku, (0, 0))
            on_hand, reserved = int(current.on_hand), int(current.reserved)
            d_on_hand, d_reserved = on_hand - ledger_on_hand, reserved - ledger_reserved
            if not d_on_hand and not d_reserved:
                return None
            await repo.write_ledger(
                conn,
                LedgerKind.AUDIT_CORRECTION,
                {sku: (d_on_hand, d_reserved)},
                reason=reason,
                actor=actor,
                now=now,
            )
            return Drift(sku, on_hand, reserved, ledger_on_hand, ledger_reserved, reserved)

        with _translated():
            return await self._write(work)
