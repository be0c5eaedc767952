"""Demo stock (deterministic)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from vanity_common.db import Database

from vanity_inventory.settings import InventorySettings
from vanity_inventory.tables import stock_items


async def seed(settings: InventorySettings) -> None:
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            if await session.scalar(select(func.count()).select_from(stock_items)):
                return
            now = datetime.now(UTC)
            await session.execute(
                insert(stock_items),
                [
                    {
                        "sku": f"DEMO-{i:03d}",
                        "on_hand": (i * 7) % 40,
                        "reserved": 0,
                        "updated_at": now,
                    }
                    for i in range(1, 51)
                ],
            )
    finally:
        await db.dispose()
