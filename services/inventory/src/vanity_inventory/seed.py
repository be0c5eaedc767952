"""Demo stock (deterministic, idempotent): every SKU of the demo catalogue, some out of stock,
some low, each with an "initial stock" ledger row. Re-running adds only SKUs not stocked yet."""

from __future__ import annotations

import json
import logging
import zlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select
from vanity_common.db import Database
from vanity_common.settings import REPO_ROOT

from vanity_inventory.domain import LedgerKind
from vanity_inventory.settings import InventorySettings
from vanity_inventory.tables import inventory_logs, stock_items

log = logging.getLogger(__name__)

FALLBACK_SKUS = [f"DEMO-{i:03d}" for i in range(1, 51)]


def demo_skus(settings: InventorySettings) -> list[str]:
    path = Path(settings.demo_catalog_path)
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        log.warning(
            "demo catalogue not found; seeding the fallback DEMO-### SKUs",
            extra={"path": str(path)},
        )
        return FALLBACK_SKUS
    document = json.loads(path.read_text(encoding="utf-8"))
    skus = [
        variant["sku"]
        for product in document.get("products", [])
        for variant in product.get("variants", [])
        if variant.get("sku")
    ]
    return list(dict.fromkeys(skus)) or FALLBACK_SKUS


def demo_quantity(sku: str, low_threshold: int) -> int:
    """Stable per SKU: ~10% out of stock, ~15% low, the rest 10..129 units."""
    bucket = zlib.crc32(sku.encode()) % 100
    if bucket < 10:
        return 0
    if bucket < 25:
        return 1 + bucket % max(low_threshold, 1)
    return 10 + (zlib.crc32(sku[::-1].encode()) % 120)


async def seed(settings: InventorySettings) -> None:
    skus = demo_skus(settings)
    db = Database(settings.database_url)
    now = datetime.now(UTC)
    try:
        async with db.unit_of_work() as uow:
            conn = uow.conn
            existing = set((await conn.scalars(select(stock_items.c.sku))).all())
            new = [sku for sku in skus if sku not in existing]
            if not new:
                log.info("demo stock already seeded", extra={"skus": len(existing)})
                return
            quantities = {sku: demo_quantity(sku, settings.low_stock_threshold) for sku in new}
            await conn.execute(
                insert(stock_items),
                [
                    {"sku": s, "on_hand": q, "reserved": 0, "created_at": now, "updated_at": now}
                    for s, q in quantities.items()
                ],
            )
            await conn.execute(
                insert(inventory_logs),
                [
                    {
                        "sku": s,
                        "kind": LedgerKind.RESTOCK.value,
                        "delta_on_hand": q,
                        "delta_reserved": 0,
                        "on_hand_after": q,
                        "reserved_after": 0,
                        "reason": "initial stock",
                        "actor": "system:seed",
                        "created_at": now,
                    }
                    for s, q in quantities.items()
                ],
            )
        log.info("seeded demo stock", extra={"skus": len(new)})
    finally:
        await db.dispose()
