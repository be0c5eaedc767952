"""Checkout's schema: orders and their lines, the saga driving each order (`sagas`) and the
saga's append-only history (`saga_log`)."""

from __future__ import annotations

import sqlalchemy as sa
from vanity_common.db import (
    UTCDateTime,
    autoincrement_id,
    new_metadata,
    timestamp_columns,
)
from vanity_common.idempotency import idempotency_table

metadata = new_metadata()

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("payment_id", sa.String(64), nullable=True),
    *timestamp_columns(),
    sa.Column("failure_reason", sa.String(40), nullable=True),
    sa.Column("refunded_minor", sa.BigInteger, nullable=False, server_default="0"),
    # A copy of the address at order time (identity's may change later); JSON object.
    sa.Column("shipping_address", sa.JSON, nullable=True),
    sa.Column("payment_status", sa.String(32), nullable=True),
    sa.Column("client_secret", sa.String(255), nullable=True),  # while awaiting 3-D Secure
    sa.Column("tracking_number", sa.String(100), nullable=True),
    sa.Column("carrier", sa.String(64), nullable=True),
    sa.CheckConstraint("total_minor >= 0", name="total_non_negative"),
    sa.CheckConstraint("refunded_minor >= 0", name="refunded_non_negative"),
    sa.UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_idempotency_key"),
    sa.Index("ix_orders_user_id", "user_id", "created_at"),
    sa.Index("ix_orders_status", "status", "updated_at"),
    # Admin listing: newest first, optionally by status (keyset on created_at, id).
    sa.Index("ix_orders_created_at", "created_at", "id"),
    sa.Index("ix_orders_status_created_at", "status", "created_at", "id"),
)

order_items = sa.Table(
    "order_items",
    metadata,
    autoincrement_id(),
    sa.Column(
        "order_id",
        sa.String(36),
        sa.ForeignKey("orders.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.Index("ix_order_items_order_id", "order_id"),
)

# One saga per order: where it is, when it is due again, and who holds it (the lease). A
# worker claims a saga by setting `lease_owner`/`lease_until` in a short transaction, runs one
# step's remote call with no transaction open, then commits the step's effect together with the
# next state, fenced on its lease; a crashed worker's lease runs out and recovery takes over.
sagas = sa.Table(
    "sagas",
    metadata,
    sa.Column(
        "order_id",
        sa.String(36),
        sa.ForeignKey("orders.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("step", sa.String(32), nullable=False),
    sa.Column("failure_reason", sa.String(40), nullable=True),
    sa.Column("compensate_from", sa.String(32), nullable=True),
    sa.Column("payment_method", sa.String(255), nullable=False),
    sa.Column("address_id", sa.String(64), nullable=True),
    sa.Column("expected_total_minor", sa.BigInteger, nullable=True),
    sa.Column("payment_outcome", sa.String(16), nullable=True),
    sa.Column("wait_until", UTCDateTime, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(80), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    *timestamp_columns(),
    sa.Index("ix_sagas_state_next_attempt_at", "state", "next_attempt_at"),
)

# Append-only: one row per saga transition and per remote outcome worth keeping (the admin's
# timeline of an order).
saga_log = sa.Table(
    "saga_log",
    metadata,
    autoincrement_id(),
    sa.Column("order_id", sa.String(36), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("from_step", sa.String(32), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=True),
    sa.Column("to_step", sa.String(32), nullable=True),
    sa.Column("detail", sa.JSON, nullable=True),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_saga_log_order_id", "order_id", "id"),
)

# HTTP Idempotency-Key records (vanity_common.idempotency), for POST /api/v1/checkout.
idempotency_keys = idempotency_table(metadata)
