"""Cart's schema: one cart per user, its lines, and the checkout lock."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, String, Table
from vanity_common.db import UTCDateTime, new_metadata

metadata = new_metadata()

carts = Table(
    "carts",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False, server_default="0"),
    Column("locked_by", String(64), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

cart_items = Table(
    "cart_items",
    metadata,
    Column(
        "user_id", String(64), ForeignKey("carts.user_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("sku", String(64), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)
