"""Inventory's schema (SQLAlchemy Core). Owned by this service only."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, String, Table
from vanity_common.db import new_metadata

metadata = new_metadata()

stock_items = Table(
    "stock_items",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("on_hand", BigInteger, nullable=False, server_default="0"),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
    CheckConstraint("reserved >= 0", name="reserved_non_negative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
)
