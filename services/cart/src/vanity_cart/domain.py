"""Pure cart rules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CartLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Cart:
    user_id: str
    lines: tuple[CartLine, ...] = ()
    version: int = 0
    locked_by: str | None = None

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)
