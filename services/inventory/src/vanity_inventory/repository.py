"""Persistence for stock, reservations and the ledger (Core statements: this is a hot path).

Every write is relative (`reserved = reserved + :q`) and conditional (`... AND on_hand -
reserved >= :q`): the database, not Python, decides whether there is enough stock, and the row
lock an UPDATE takes is held only until the surrounding short transaction commits.
Ledger rows are written with `INSERT ... SELECT` from the row just changed, so the balances after
a change come from the database in the same round trip, inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    and_,
    case,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_inventory.domain import LedgerKind, ReservationStatus
from vanity_inventory.tables import (
    UTCDateTime,
    inventory_logs,
    reservation_lines,
    reservations,
    stock_items,
)

ACTIVE = ReservationStatus.ACTIVE.value


@dataclass(frozen=True)
class ReservationRow:
    id: str
    order_id: str
    status: ReservationStatus
    expires_at: datetime
    lines: dict[str, int]


@dataclass(frozen=True)
class StockRow:
    sku: str
    on_hand: int
    reserved: int  # active and not yet expired
    available: int
    updated_at: datetime


@dataclass(frozen=True)
class LedgerRow:
    id: int
    sku: str
    kind: str
    delta_on_hand: int
    delta_reserved: int
    on_hand_after: int
    reserved_after: int
    reason: str
    actor: str
    order_id: str | None
    reservation_id: str | None
    created_at: datetime


# ------------------------------------------------------------------------------------ reads


def _expired_unreclaimed(now: datetime):
    """Units of this SKU held by active lines whose expiry time has passed (not reclaimed yet)."""
    lines = reservation_lines
    return (
        select(func.coalesce(func.sum(lines.c.quantity), 0))
        .where(
            lines.c.sku == stock_items.c.sku,
            lines.c.active == true(),
            lines.c.expires_at <= literal(now, UTCDateTime()),
        )
        .scalar_subquery()
    )


def available_expr(now: datetime):
    """on hand - reserved, with expired-but-unreclaimed units given back: correct at `now`
    whether or not the expiry job (or a reclaiming reserve) has run yet."""
    return stock_items.c.on_hand - stock_items.c.reserved + _expired_unreclaimed(now)


async def stock_rows(conn: AsyncConnection, skus: Sequence[str], now: datetime) -> list[StockRow]:
    available = available_expr(now).label("available")
    rows = await conn.execute(
        select(stock_items.c.sku, stock_items.c.on_hand, available, stock_items.c.updated_at).where(
            stock_items.c.sku.in_(skus)
        )
    )
    return [_stock_row(r) for r in rows]


def _stock_row(r) -> StockRow:
    on_hand, available = int(r.on_hand), int(r.available)
    return StockRow(r.sku, on_hand, on_hand - available, available, r.updated_at)


async def list_stock(
    conn: AsyncConnection,
    now: datetime,
    *,
    after_sku: str | None,
    limit: int,
    low_threshold: int | None,
    prefix: str | None = None,
) -> list[StockRow]:
    available = available_expr(now).label("available")
    query = select(
        stock_items.c.sku, stock_items.c.on_hand, available, stock_items.c.updated_at
    ).order_by(stock_items.c.sku)
    if after_sku is not None:
        query = query.where(stock_items.c.sku > after_sku)
    if prefix:
        query = query.where(stock_items.c.sku.startswith(prefix, autoescape=True))
    if low_threshold is not None:
        query = query.where(available_expr(now) <= low_threshold)
    rows = await conn.execute(query.limit(limit))
    return [_stock_row(r) for r in rows]


async def lock_stock(conn: AsyncConnection, sku: str):
    """The stock row, locked until the transaction ends (admin writes only; not a hot path)."""
    return (
        await conn.execute(
            select(stock_items.c.on_hand, stock_items.c.reserved)
            .where(stock_items.c.sku == sku)
            .with_for_update()
        )
    ).first()


async def existing_skus(conn: AsyncConnection, skus: Sequence[str]) -> set[str]:
    rows = await conn.execute(select(stock_items.c.sku).where(stock_items.c.sku.in_(skus)))
    return {r.sku for r in rows}


async def _reservation_row(conn: AsyncConnection, row) -> ReservationRow:
    return ReservationRow(
        row.id,
        row.order_id,
        ReservationStatus(row.status),
        row.expires_at,
        await reservation_lines_of(conn, row.id),
    )


async def reservation_by_order(
    conn: AsyncConnection, order_id: str, *, for_update: bool = False
) -> ReservationRow | None:
    query = select(
        reservations.c.id, reservations.c.order_id, reservations.c.status, reservations.c.expires_at
    ).where(reservations.c.order_id == order_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return await _reservation_row(conn, row)


async def reservation_by_id(conn: AsyncConnection, reservation_id: str) -> ReservationRow:
    row = (
        await conn.execute(
            select(
                reservations.c.id,
                reservations.c.order_id,
                reservations.c.status,
                reservations.c.expires_at,
            ).where(reservations.c.id == reservation_id)
        )
    ).one()
    return await _reservation_row(conn, row)


async def low_stock_candidates(
    conn: AsyncConnection,
    now: datetime,
    threshold: int,
    skus: Sequence[str] | None,
    limit: int = 500,
) -> list[tuple[str, int]]:
    """SKUs at or below the threshold whose admins were not told yet."""
    available = available_expr(now)
    query = (
        select(stock_items.c.sku, available.label("available"))
        .where(stock_items.c.low_stock_alerted_at.is_(None), available <= threshold)
        .order_by(stock_items.c.sku)
        .limit(limit)
    )
    if skus is not None:
        query = query.where(stock_items.c.sku.in_(skus))
    return [(r.sku, int(r.available)) for r in await conn.execute(query)]


async def reservation_lines_of(conn: AsyncConnection, reservation_id: str) -> dict[str, int]:
    rows = await conn.execute(
        select(reservation_lines.c.sku, reservation_lines.c.quantity)
        .where(reservation_lines.c.reservation_id == reservation_id)
        .order_by(reservation_lines.c.sku)
    )
    return {r.sku: int(r.quantity) for r in rows}


async def expired_reservation_ids_for_skus(
    conn: AsyncConnection, skus: Sequence[str], now: datetime, limit: int = 500
) -> list[str]:
    rows = await conn.execute(
        select(reservation_lines.c.reservation_id)
        .where(
            reservation_lines.c.sku.in_(skus),
            reservation_lines.c.active == true(),
            reservation_lines.c.expires_at <= now,
        )
        .distinct()
        .limit(limit)
    )
    return [r.reservation_id for r in rows]


async def due_reservation_ids(conn: AsyncConnection, now: datetime, limit: int) -> list[str]:
    rows = await conn.execute(
        select(reservations.c.id)
        .where(reservations.c.status == ACTIVE, reservations.c.expires_at <= now)
        .order_by(reservations.c.expires_at)
        .limit(limit)
    )
    return [r.id for r in rows]


async def ledger_page(
    conn: AsyncConnection, sku: str, *, before_id: int | None, limit: int
) -> list[LedgerRow]:
    query = select(inventory_logs).where(inventory_logs.c.sku == sku)
    if before_id is not None:
        query = query.where(inventory_logs.c.id < before_id)
    rows = await conn.execute(query.order_by(inventory_logs.c.id.desc()).limit(limit))
    return [LedgerRow(**r._mapping) for r in rows]


async def ledger_sums(conn: AsyncConnection, sku: str | None = None) -> dict[str, tuple[int, int]]:
    query = select(
        inventory_logs.c.sku,
        func.sum(inventory_logs.c.delta_on_hand),
        func.sum(inventory_logs.c.delta_reserved),
    ).group_by(inventory_logs.c.sku)
    if sku is not None:
        query = query.where(inventory_logs.c.sku == sku)
    return {r[0]: (int(r[1]), int(r[2])) for r in await conn.execute(query)}


async def active_line_sums(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(
        select(reservation_lines.c.sku, func.sum(reservation_lines.c.quantity))
        .where(reservation_lines.c.active == true())
        .group_by(reservation_lines.c.sku)
    )
    return {r[0]: int(r[1]) for r in rows}


async def all_balances(conn: AsyncConnection) -> dict[str, tuple[int, int]]:
    rows = await conn.execute(
        select(stock_items.c.sku, stock_items.c.on_hand, stock_items.c.reserved)
    )
    return {r.sku: (int(r.on_hand), int(r.reserved)) for r in rows}


# ----------------------------------------------------------------------------------- writes


async def insert_reservation(
    conn: AsyncConnection,
    *,
    reservation_id: str,
    order_id: str,
    lines: Mapping[str, int],
    expires_at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        insert(reservations).values(
            id=reservation_id,
            order_id=order_id,
            status=ACTIVE,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
    )
    await conn.execute(
        insert(reservation_lines),
        [
            {
                "reservation_id": reservation_id,
                "sku": sku,
                "quantity": qty,
                "expires_at": expires_at,
                "active": True,
            }
            for sku, qty in lines.items()
        ],
    )


async def try_reserve_units(conn: AsyncConnection, sku: str, qty: int, now: datetime) -> bool:
    """reserved += qty only if that many are free (counting expired-unreclaimed as taken)."""
    result = await conn.execute(
        update(stock_items)
        .where(stock_items.c.sku == sku, stock_items.c.on_hand - stock_items.c.reserved >= qty)
        .values(reserved=stock_items.c.reserved + qty, updated_at=now)
    )
    return result.rowcount == 1


async def unreserve_units(conn: AsyncConnection, sku: str, qty: int, now: datetime) -> None:
    result = await conn.execute(
        update(stock_items)
        .where(stock_items.c.sku == sku, stock_items.c.reserved >= qty)
        .values(reserved=stock_items.c.reserved - qty, updated_at=now)
    )
    if result.rowcount != 1:
        raise RuntimeError(f"stock row {sku} holds fewer reserved units than a reservation")


async def sell_units(conn: AsyncConnection, sku: str, qty: int, now: datetime) -> None:
    result = await conn.execute(
        update(stock_items)
        .where(
            stock_items.c.sku == sku, stock_items.c.reserved >= qty, stock_items.c.on_hand >= qty
        )
        .values(
            on_hand=stock_items.c.on_hand - qty,
            reserved=stock_items.c.reserved - qty,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise RuntimeError(f"stock row {sku} holds fewer reserved units than a reservation")


def _alert_reset(new_available, low_threshold: int):
    """Clears the low-stock marker when availability ends above the threshold."""
    return case((new_available > low_threshold, None), else_=stock_items.c.low_stock_alerted_at)


async def restocked(conn: AsyncConnection, order_id: str) -> bool:
    """Whether this order's units were already put back (its RESTOCK ledger rows exist)."""
    row = await conn.execute(
        select(inventory_logs.c.id)
        .where(inventory_logs.c.order_id == order_id, inventory_logs.c.kind == "restock")
        .limit(1)
    )
    return row.first() is not None


async def adjust_on_hand(
    conn: AsyncConnection, sku: str, delta: int, now: datetime, low_threshold: int
) -> bool:
    """on_hand += delta unless that leaves fewer on hand than reserved (or below zero)."""
    new_on_hand = stock_items.c.on_hand + delta
    result = await conn.execute(
        update(stock_items)
        .where(stock_items.c.sku == sku, new_on_hand >= stock_items.c.reserved, new_on_hand >= 0)
        # MySQL evaluates SET left to right with already-updated values; SQLite uses the old
        # ones. Computing the marker first makes both read the old on_hand.
        .ordered_values(
            (
                stock_items.c.low_stock_alerted_at,
                _alert_reset(new_on_hand - stock_items.c.reserved, low_threshold),
            ),
            (stock_items.c.on_hand, new_on_hand),
            (stock_items.c.updated_at, now),
        )
    )
    return result.rowcount == 1


async def set_on_hand(
    conn: AsyncConnection, sku: str, target: int, now: datetime, low_threshold: int
) -> bool:
    result = await conn.execute(
        update(stock_items)
        .where(stock_items.c.sku == sku, stock_items.c.reserved <= target)
        .ordered_values(
            (
                stock_items.c.low_stock_alerted_at,
                _alert_reset(literal(target) - stock_items.c.reserved, low_threshold),
            ),
            (stock_items.c.on_hand, target),
            (stock_items.c.updated_at, now),
        )
    )
    return result.rowcount == 1


async def insert_stock(conn: AsyncConnection, sku: str, on_hand: int, now: datetime) -> None:
    await conn.execute(
        insert(stock_items).values(
            sku=sku, on_hand=on_hand, reserved=0, created_at=now, updated_at=now
        )
    )


async def mark_low_stock_alerted(conn: AsyncConnection, sku: str, now: datetime) -> bool:
    """Claims the one notification for this crossing (false: someone already sent it)."""
    result = await conn.execute(
        update(stock_items)
        .where(stock_items.c.sku == sku, stock_items.c.low_stock_alerted_at.is_(None))
        .values(low_stock_alerted_at=now)
    )
    return result.rowcount == 1


async def set_reservation_status(
    conn: AsyncConnection,
    reservation_id: str,
    status: ReservationStatus,
    now: datetime,
    *,
    reason: str | None = None,
    only_if_due: bool = False,
) -> bool:
    """Moves an active reservation to `status` and deactivates its lines; false if it was not
    active (or, with `only_if_due`, not yet expired) any more."""
    conditions = [reservations.c.id == reservation_id, reservations.c.status == ACTIVE]
    if only_if_due:
        conditions.append(reservations.c.expires_at <= now)
    result = await conn.execute(
        update(reservations)
        .where(and_(*conditions))
        .values(status=status.value, status_reason=reason, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    await conn.execute(
        update(reservation_lines)
        .where(reservation_lines.c.reservation_id == reservation_id)
        .values(active=False)
    )
    return True


async def write_ledger(
    conn: AsyncConnection,
    kind: LedgerKind,
    deltas: Mapping[str, tuple[int, int]],
    *,
    reason: str,
    actor: str,
    now: datetime,
    order_id: str | None = None,
    reservation_id: str | None = None,
) -> None:
    """One ledger row per SKU, balances read from the (already updated, locked) stock rows by
    the same statement: `INSERT INTO inventory_logs ... SELECT ... FROM stock_items`."""
    skus = list(deltas)

    def per_sku(index: int):
        if len(skus) == 1:
            return literal(deltas[skus[0]][index])
        return case({sku: literal(d[index]) for sku, d in deltas.items()}, value=stock_items.c.sku)

    source = select(
        stock_items.c.sku,
        literal(kind.value),
        per_sku(0),
        per_sku(1),
        stock_items.c.on_hand,
        stock_items.c.reserved,
        literal(reason[:255]),
        literal(actor[:128]),
        literal(order_id),
        literal(reservation_id),
        literal(now, UTCDateTime()),
    ).where(stock_items.c.sku.in_(skus))
    await conn.execute(
        insert(inventory_logs).from_select(
            [
                "sku",
                "kind",
                "delta_on_hand",
                "delta_reserved",
                "on_hand_after",
                "reserved_after",
                "reason",
                "actor",
                "order_id",
                "reservation_id",
                "created_at",
            ],
            source,
        )
    )
