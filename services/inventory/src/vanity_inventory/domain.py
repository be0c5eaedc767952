"""Pure stock rules: no I/O."""

from __future__ import annotations

from enum import StrEnum


class StockLevel(StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"
    OUT_OF_STOCK = "out_of_stock"


def stock_level(available: int, low_threshold: int) -> StockLevel:
    if available <= 0:
        return StockLevel.OUT_OF_STOCK
    if available <= low_threshold:
        return StockLevel.LOW
    return StockLevel.IN_STOCK
