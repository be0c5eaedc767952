"""Inventory's schema (SQLAlchemy Core). Owned by this service only.

- `stock_items`: one row per SKU; `reserved` counts the units of *active* reservation lines
  (including ones whose expiry time has passed but that were not reclaimed yet: readers add those
  back, see `repository.available_expr`). CHECK constraints make negative stock impossible.
- `reservations` / `reservation_lines`: one reservation per order (unique `order_id`); lines carry
  the reservation's `expires_at` and an `active` flag so "expired but not reclaimed" quantities of
  a SKU are one index range away.
- `inventory_logs`: the append-only ledger (triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
)
from vanity_common.db import UTCDateTime, autoincrement_id, new_metadata, timestamp_columns

metadata = new_metadata()

stock_items = Table(
    "stock_items",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("on_hand", BigInteger, nullable=False, server_default="0"),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    # Set when admins were told this SKU runs low; cleared when a restock lifts it above the
    # threshold. Lets the low-stock notification fire once per crossing.
    Column("low_stock_alerted_at", UTCDateTime, nullable=True),
    *timestamp_columns(),
    CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
    CheckConstraint("reserved >= 0", name="reserved_non_negative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("status_reason", String(255), nullable=True),
    *timestamp_columns(),
    CheckConstraint(
        "status IN ('active', 'committed', 'released', 'expired')", name="status_known"
    ),
    Index("ix_reservations_status_expires_at", "status", "expires_at"),
)

reservation_lines = Table(
    "reservation_lines",
    metadata,
    Column(
        "reservation_id",
        String(32),
        ForeignKey("reservations.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    Column("sku", String(64), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_reservation_lines_sku_active_expires_at", "sku", "active", "expires_at"),
)

inventory_logs = Table(
    "inventory_logs",
    metadata,
    autoincrement_id(),
    Column("sku", String(64), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("delta_on_hand", BigInteger, nullable=False),
    Column("delta_reserved", BigInteger, nullable=False),
    Column("on_hand_after", BigInteger, nullable=False),
    Column("reserved_after", BigInteger, nullable=False),
    Column("reason", String(255), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("order_id", String(64), nullable=True),
    Column("reservation_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("on_hand_after >= 0", name="on_hand_after_non_negative"),
    CheckConstraint("reserved_after >= 0", name="reserved_after_non_negative"),
    Index("ix_inventory_logs_sku_id", "sku", "id"),
    Index("ix_inventory_logs_order_id", "order_id"),
)
