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

import sqlalchemy as sa
from vanity_common.db import (
    UTCDateTime,
    autoincrement_id,
    new_metadata,
    timestamp_columns,
)

metadata = new_metadata()

stock_items = sa.Table(
    "stock_items",
    metadata,
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("on_hand", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
    # Set when admins were told this SKU runs low; cleared when a restock lifts it above the
    # threshold. Lets the low-stock notification fire once per crossing.
    sa.Column("low_stock_alerted_at", UTCDateTime, nullable=True),
    *timestamp_columns(),
    sa.CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
    sa.CheckConstraint("reserved >= 0", name="reserved_non_negative"),
    sa.CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("order_id", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("status_reason", sa.String(255), nullable=True),
    *timestamp_columns(),
    sa.CheckConstraint(
        "status IN ('active', 'committed', 'released', 'expired')", name="status_known"
    ),
    sa.Index("ix_reservations_status_expires_at", "status", "expires_at"),
)

reservation_lines = sa.Table(
    "reservation_lines",
    metadata,
    sa.Column(
        "reservation_id",
        sa.String(32),
        sa.ForeignKey("reservations.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.Index("ix_reservation_lines_sku_active_expires_at", "sku", "active", "expires_at"),
)

inventory_logs = sa.Table(
    "inventory_logs",
    metadata,
    autoincrement_id(),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("delta_on_hand", sa.BigInteger, nullable=False),
    sa.Column("delta_reserved", sa.BigInteger, nullable=False),
    sa.Column("on_hand_after", sa.BigInteger, nullable=False),
    sa.Column("reserved_after", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("reservation_id", sa.String(32), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("on_hand_after >= 0", name="on_hand_after_non_negative"),
    sa.CheckConstraint("reserved_after >= 0", name="reserved_after_non_negative"),
    sa.Index("ix_inventory_logs_sku_id", "sku", "id"),
    sa.Index("ix_inventory_logs_order_id", "order_id"),
)
