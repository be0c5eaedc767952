"""Checkout use cases (the saga arrives with the checkout issue)."""

from __future__ import annotations

from vanity_common.db import Database
from vanity_common.errors import NotFound

from vanity_checkout import repository
from vanity_checkout.domain import Order


class OrderService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_order(self, order_id: str, *, owner: str | None = None) -> Order:
        """`owner` set: another user's order is reported as missing, never as forbidden."""
        async with self.db.connect() as conn:
            order = await repository.get_order(conn, order_id)
        if order is None or (owner is not None and order.user_id != owner):
            raise NotFound("Order not found.", reason="ORDER_NOT_FOUND")
        return order

    async def list_orders(self, user_id: str, limit: int = 20) -> list[Order]:
        async with self.db.connect() as conn:
            return await repository.list_orders(conn, user_id, limit)
