"""Persistence for stock (Core statements: this is a hot path)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_inventory.tables import stock_items


async def available_by_sku(conn: AsyncConnection, skus: list[str]) -> dict[str, int]:
    rows = await conn.execute(
        select(stock_items.c.sku, stock_items.c.on_hand - stock_items.c.reserved).where(
            stock_items.c.sku.in_(skus)
        )
    )
    return {sku: int(available) for sku, available in rows}
