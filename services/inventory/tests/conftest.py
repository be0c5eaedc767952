"""Fixtures for inventory tests: a controllable clock, migrated databases, ledger checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text
from vanity_common.db import Database
from vanity_common.migrations import migrate
from vanity_inventory.service import InventoryService


@dataclass
class Notifications:
    sent: list[tuple[str, int, int]] = field(default_factory=list)

    async def __call__(self, sku: str, available: int, threshold: int) -> None:
        self.sent.append((sku, available, threshold))


@pytest.fixture
def notifications() -> Notifications:
    return Notifications()


async def make_service(url: str, clock, notifier=None, pool_size: int = 10, threshold: int = 5):
    await migrate("vanity_inventory", url)
    db = Database(url, pool_size=pool_size)
    return InventoryService(db, threshold, clock=clock, notifier=notifier)


@pytest.fixture
async def inventory(database_url, clock, notifications) -> AsyncIterator[InventoryService]:
    service = await make_service(database_url, clock, notifications)
    yield service
    await service.db.dispose()


@pytest.fixture
async def maria_inventory(mariadb_url, clock) -> AsyncIterator[InventoryService]:
    # Enough connections for real parallelism (the fixture database has max_connections 151).
    service = await make_service(mariadb_url, clock, pool_size=40)
    yield service
    await service.db.dispose()


async def balances(service: InventoryService, sku: str) -> tuple[int, int]:
    async with service.db.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT on_hand, reserved FROM stock_items WHERE sku = :sku"), {"sku": sku}
            )
        ).one()
    return int(row.on_hand), int(row.reserved)


async def assert_ledger_consistent(service: InventoryService) -> None:
    """Every balance equals its ledger sums and the active reservation lines; nothing negative."""
    report = await service.audit()
    assert report.drift == [], report.drift
    async with service.db.connect() as conn:
        bad = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM stock_items "
                    "WHERE on_hand < 0 OR reserved < 0 OR reserved > on_hand"
                )
            )
        ).scalar_one()
        last = (
            await conn.execute(
                text(
                    "SELECT s.sku FROM stock_items s JOIN inventory_logs l ON l.id = "
                    "(SELECT max(id) FROM inventory_logs WHERE sku = s.sku) "
                    "WHERE l.on_hand_after <> s.on_hand OR l.reserved_after <> s.reserved"
                )
            )
        ).all()
    assert bad == 0
    assert last == [], f"last ledger row disagrees with the balance for {last}"
