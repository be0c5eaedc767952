"""Cart use cases."""

from __future__ import annotations

from vanity_common.db import Database

from vanity_cart import repository
from vanity_cart.domain import Cart


class CartService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_cart(self, user_id: str) -> Cart:
        async with self.db.connect() as conn:
            return await repository.load_cart(conn, user_id)
