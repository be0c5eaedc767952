"""Persistence for carts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_cart.domain import Cart, CartLine
from vanity_cart.tables import cart_items, carts


async def load_cart(conn: AsyncConnection, user_id: str) -> Cart:
    header = (
        await conn.execute(
            select(carts.c.version, carts.c.locked_by).where(carts.c.user_id == user_id)
        )
    ).first()
    rows = await conn.execute(
        select(cart_items.c.sku, cart_items.c.quantity)
        .where(cart_items.c.user_id == user_id)
        .order_by(cart_items.c.added_at, cart_items.c.sku)
    )
    lines = tuple(CartLine(sku, int(qty)) for sku, qty in rows)
    if header is None:
        return Cart(user_id=user_id, lines=lines)
    return Cart(
        user_id=user_id, lines=lines, version=int(header.version), locked_by=header.locked_by
    )
