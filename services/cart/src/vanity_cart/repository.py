"""Cart persistence (SQLAlchemy Core).

Locking protocol: every change to a cart's lines first runs `claim_for_write`, a conditional
UPDATE of the cart row (version + 1, only while unlocked and, when asked, at the expected
version). On MariaDB that row lock serialises the writers of one cart, so the line statements
that follow see a stable cart; SQLite serialises writers with BEGIN IMMEDIATE. Line quantities
change with relative statements (`quantity = quantity + :n`), never a value read earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from vanity_common.mapping import view_from

from vanity_cart.tables import cart_lines, carts


@dataclass(frozen=True)
class CartRow:
    id: str
    user_id: str | None
    version: int
    locked_by: str | None
    locked_at: datetime | None
    cleared_by: str | None
    merged_into: str | None
    updated_at: datetime


@dataclass(frozen=True)
class StoredCart:
    row: CartRow
    lines: tuple[tuple[str, int], ...]  # (sku, quantity) in the order they were added


_HEADER = (
    carts.c.id,
    carts.c.user_id,
    carts.c.version,
    carts.c.locked_by,
    carts.c.locked_at,
    carts.c.cleared_by,
    carts.c.merged_into,
    carts.c.updated_at,
)


def _row(r) -> CartRow:
    return view_from(CartRow, r, version=int(r.version))


async def _load(conn: AsyncConnection, condition) -> StoredCart | None:
    """The cart and its lines in one statement (the hot read)."""
    query = (
        select(*_HEADER, cart_lines.c.sku, cart_lines.c.quantity)
        .select_from(carts.outerjoin(cart_lines, cart_lines.c.cart_id == carts.c.id))
        .where(condition)
        .order_by(cart_lines.c.added_at, cart_lines.c.sku)
    )
    rows = (await conn.execute(query)).all()
    if not rows:
        return None
    lines = tuple((r.sku, int(r.quantity)) for r in rows if r.sku is not None)
    return StoredCart(_row(rows[0]), lines)


async def cart_of_user(conn: AsyncConnection, user_id: str) -> StoredCart | None:
    return await _load(conn, carts.c.user_id == user_id)


async def guest_cart(conn: AsyncConnection, token_hash: str) -> StoredCart | None:
    """A live guest cart by its token's hash; merged carts no longer answer to their token."""
    return await _load(
        conn, and_(carts.c.guest_token_hash == token_hash, carts.c.merged_into.is_(None))
    )


async def cart_by_id(conn: AsyncConnection, cart_id: str) -> StoredCart | None:
    return await _load(conn, carts.c.id == cart_id)


async def header(conn: AsyncConnection, cart_id: str) -> CartRow | None:
    r = (await conn.execute(select(*_HEADER).where(carts.c.id == cart_id))).first()
    return None if r is None else _row(r)


async def insert_cart(
    conn: AsyncConnection,
    cart_id: str,
    now: datetime,
    *,
    user_id: str | None = None,
    token_hash: str | None = None,
) -> None:
    await conn.execute(
        insert(carts).values(
            id=cart_id,
            user_id=user_id,
            guest_token_hash=token_hash,
            version=0,
            created_at=now,
            updated_at=now,
        )
    )


async def claim_for_write(
    conn: AsyncConnection, cart_id: str, expected_version: int | None, now: datetime
) -> bool:
    """Version + 1 while unlocked (and at `expected_version` when given); locks the row."""
    condition = and_(carts.c.id == cart_id, carts.c.locked_by.is_(None))
    if expected_version is not None:
        condition = and_(condition, carts.c.version == expected_version)
    result = await conn.execute(
        update(carts).where(condition).values(version=carts.c.version + 1, updated_at=now)
    )
    return result.rowcount == 1


async def line_quantity(conn: AsyncConnection, cart_id: str, sku: str) -> int:
    value = (
        await conn.execute(
            select(cart_lines.c.quantity).where(
                cart_lines.c.cart_id == cart_id, cart_lines.c.sku == sku
            )
        )
    ).scalar_one_or_none()
    return int(value or 0)


async def line_count(conn: AsyncConnection, cart_id: str) -> int:
    return int(
        (
            await conn.execute(
                select(func.count()).select_from(cart_lines).where(cart_lines.c.cart_id == cart_id)
            )
        ).scalar_one()
    )


async def add_to_line(conn: AsyncConnection, cart_id: str, sku: str, n: int, cap: int) -> bool:
    """Adds `n` units to an existing line unless that would exceed `cap`."""
    result = await conn.execute(
        update(cart_lines)
        .where(
            cart_lines.c.cart_id == cart_id,
            cart_lines.c.sku == sku,
            cart_lines.c.quantity + n <= cap,
        )
        .values(quantity=cart_lines.c.quantity + n)
    )
    return result.rowcount == 1


async def insert_line(
    conn: AsyncConnection, cart_id: str, sku: str, quantity: int, now: datetime
) -> None:
    await conn.execute(
        insert(cart_lines).values(cart_id=cart_id, sku=sku, quantity=quantity, added_at=now)
    )


async def set_line(
    conn: AsyncConnection, cart_id: str, sku: str, quantity: int, cap: int | None
) -> bool:
    """Sets a line to `quantity` when that lowers it, or when it stays within `cap` (the stock,
    checked by the caller); None: lowering only. False when the line is missing or the rule
    does not hold any more (the line changed since the caller looked)."""
    allowed = cart_lines.c.quantity >= quantity
    if cap is not None:
        allowed = or_(allowed, quantity <= cap)
    result = await conn.execute(
        update(cart_lines)
        .where(cart_lines.c.cart_id == cart_id, cart_lines.c.sku == sku, allowed)
        .values(quantity=quantity)
    )
    return result.rowcount == 1


async def delete_line(conn: AsyncConnection, cart_id: str, sku: str) -> bool:
    result = await conn.execute(
        delete(cart_lines).where(cart_lines.c.cart_id == cart_id, cart_lines.c.sku == sku)
    )
    return result.rowcount == 1


async def delete_lines(conn: AsyncConnection, cart_id: str) -> int:
    result = await conn.execute(delete(cart_lines).where(cart_lines.c.cart_id == cart_id))
    return result.rowcount


async def mark_merged(conn: AsyncConnection, guest_cart_id: str, into: str, now: datetime) -> bool:
    """Claims a guest cart for a merge, once: False when it was merged already (or is gone)."""
    result = await conn.execute(
        update(carts)
        .where(
            carts.c.id == guest_cart_id,
            carts.c.user_id.is_(None),
            carts.c.merged_into.is_(None),
        )
        .values(merged_into=into, updated_at=now)
    )
    return result.rowcount == 1


async def lock(conn: AsyncConnection, cart_id: str, checkout_id: str, now: datetime) -> bool:
    result = await conn.execute(
        update(carts)
        .where(carts.c.id == cart_id, carts.c.locked_by.is_(None))
        .values(locked_by=checkout_id, locked_at=now)
    )
    return result.rowcount == 1


async def unlock(conn: AsyncConnection, cart_id: str, checkout_id: str) -> bool:
    result = await conn.execute(
        update(carts)
        .where(carts.c.id == cart_id, carts.c.locked_by == checkout_id)
        .values(locked_by=None, locked_at=None)
    )
    return result.rowcount == 1


async def release_for_clear(
    conn: AsyncConnection, cart_id: str, checkout_id: str, now: datetime
) -> bool:
    """Unlocks a cart its checkout is about to empty, recording who emptied it."""
    result = await conn.execute(
        update(carts)
        .where(carts.c.id == cart_id, carts.c.locked_by == checkout_id)
        .values(
            locked_by=None,
            locked_at=None,
            cleared_by=checkout_id,
            version=carts.c.version + 1,
            updated_at=now,
        )
    )
    return result.rowcount == 1


async def abandoned_guest_carts(
    conn: AsyncConnection, idle_since: datetime, limit: int
) -> list[str]:
    rows = await conn.execute(
        select(carts.c.id)
        .where(carts.c.updated_at < idle_since, carts.c.user_id.is_(None))
        .order_by(carts.c.updated_at)
        .limit(limit)
    )
    return [r.id for r in rows]


async def delete_carts(conn: AsyncConnection, cart_ids: Sequence[str], idle_since: datetime) -> int:
    """Deletes the guest carts still idle, locking them first: a write that landed since the
    listing keeps its cart."""
    if not cart_ids:
        return 0
    still_idle = [
        r.id
        for r in await conn.execute(
            select(carts.c.id)
            .where(
                carts.c.id.in_(cart_ids),
                carts.c.updated_at < idle_since,
                carts.c.user_id.is_(None),
            )
            .with_for_update()
        )
    ]
    if not still_idle:
        return 0
    await conn.execute(delete(cart_lines).where(cart_lines.c.cart_id.in_(still_idle)))
    result = await conn.execute(delete(carts).where(carts.c.id.in_(still_idle)))
    return result.rowcount
