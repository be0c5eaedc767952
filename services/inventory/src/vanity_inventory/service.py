"""Inventory use cases, callable from REST, gRPC and tasks alike."""

from __future__ import annotations

from dataclasses import dataclass

from vanity_common.db import Database
from vanity_common.errors import FieldError, InvalidArgument

from vanity_inventory import repository
from vanity_inventory.domain import StockLevel, stock_level

MAX_SKUS_PER_QUERY = 200


@dataclass(frozen=True)
class Availability:
    sku: str
    known: bool
    available: int
    level: StockLevel


class InventoryService:
    def __init__(self, db: Database, low_stock_threshold: int) -> None:
        self.db = db
        self.low_stock_threshold = low_stock_threshold

    async def availability(self, skus: list[str]) -> list[Availability]:
        unique = list(dict.fromkeys(s.strip() for s in skus if s.strip()))
        if not unique:
            raise InvalidArgument(
                "At least one SKU is required.", errors=[FieldError("sku", "required")]
            )
        if len(unique) > MAX_SKUS_PER_QUERY:
            raise InvalidArgument(
                f"At most {MAX_SKUS_PER_QUERY} SKUs per request.",
                errors=[FieldError("sku", f"at most {MAX_SKUS_PER_QUERY} values")],
            )
        async with self.db.connect() as conn:
            found = await repository.available_by_sku(conn, unique)
        return [
            Availability(
                sku=sku,
                known=sku in found,
                available=max(found.get(sku, 0), 0),
                level=stock_level(found.get(sku, 0), self.low_stock_threshold),
            )
            for sku in unique
        ]
