"""Persistence for orders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_checkout.domain import Order, OrderLine, OrderStatus
from vanity_checkout.tables import order_items, orders


def _order(row, lines: tuple[OrderLine, ...]) -> Order:
    return Order(
        id=row.id,
        user_id=row.user_id,
        status=OrderStatus(row.status),
        total_minor=int(row.total_minor),
        currency=row.currency,
        created_at=row.created_at,
        lines=lines,
        payment_id=row.payment_id,
    )


async def get_order(conn: AsyncConnection, order_id: str) -> Order | None:
    row = (await conn.execute(select(orders).where(orders.c.id == order_id))).first()
    if row is None:
        return None
    items = await conn.execute(
        select(order_items).where(order_items.c.order_id == order_id).order_by(order_items.c.id)
    )
    lines = tuple(
        OrderLine(i.sku, i.name, int(i.quantity), int(i.unit_price_minor), i.currency)
        for i in items
    )
    return _order(row, lines)


async def list_orders(conn: AsyncConnection, user_id: str, limit: int) -> list[Order]:
    rows = await conn.execute(
        select(orders)
        .where(orders.c.user_id == user_id)
        .order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(limit)
    )
    return [_order(row, ()) for row in rows]
