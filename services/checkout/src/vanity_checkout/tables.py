"""Checkout's schema: orders and their lines, the saga driving each order (`sagas`) and the
saga's append-only history (`saga_log`)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from vanity_common.db import UTCDateTime, autoincrement_id, new_metadata, timestamp_columns
from vanity_common.idempotency import idempotency_table

metadata = new_metadata()

orders = Table(
    "orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_id", String(64), nullable=True),
    *timestamp_columns(),
    Column("failure_reason", String(40), nullable=True),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    # A copy of the address at order time (identity's may change later); JSON object.
    Column("shipping_address", JSON, nullable=True),
    Column("payment_status", String(32), nullable=True),
    Column("client_secret", String(255), nullable=True),  # while awaiting 3-D Secure
    Column("tracking_number", String(100), nullable=True),
    Column("carrier", String(64), nullable=True),
    CheckConstraint("total_minor >= 0", name="total_non_negative"),
    CheckConstraint("refunded_minor >= 0", name="refunded_non_negative"),
    UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_idempotency_key"),
    Index("ix_orders_user_id", "user_id", "created_at"),
    Index("ix_orders_status", "status", "updated_at"),
    # Admin listing: newest first, optionally by status (keyset on created_at, id).
    Index("ix_orders_created_at", "created_at", "id"),
    Index("ix_orders_status_created_at", "status", "created_at", "id"),
)

order_items = Table(
    "order_items",
    metadata,
    autoincrement_id(),
    Column("order_id", String(36), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_order_items_order_id", "order_id"),
)

# One saga per order: where it is, when it is due again, and who holds it (the lease). A
# worker claims a saga by setting `lease_owner`/`lease_until` in a short transaction, runs one
# step's remote call with no transaction open, then commits the step's effect together with the
# next state, fenced on its lease; a crashed worker's lease runs out and recovery takes over.
sagas = Table(
    "sagas",
    metadata,
    Column("order_id", String(36), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("step", String(32), nullable=False),
    Column("failure_reason", String(40), nullable=True),
    Column("compensate_from", String(32), nullable=True),
    Column("payment_method", String(255), nullable=False),
    Column("address_id", String(64), nullable=True),
    Column("expected_total_minor", BigInteger, nullable=True),
    Column("payment_outcome", String(16), nullable=True),
    Column("wait_until", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(80), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False, server_default="0"),
    *timestamp_columns(),
    Index("ix_sagas_state_next_attempt_at", "state", "next_attempt_at"),
)

# Append-only: one row per saga transition and per remote outcome worth keeping (the admin's
# timeline of an order).
saga_log = Table(
    "saga_log",
    metadata,
    autoincrement_id(),
    Column("order_id", String(36), nullable=False),
    Column("event", String(40), nullable=False),
    Column("from_state", String(16), nullable=True),
    Column("from_step", String(32), nullable=True),
    Column("to_state", String(16), nullable=True),
    Column("to_step", String(32), nullable=True),
    Column("detail", JSON, nullable=True),
    Column("actor", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_saga_log_order_id", "order_id", "id"),
)

# HTTP Idempotency-Key records (vanity_common.idempotency), for POST /api/v1/checkout.
idempotency_keys = idempotency_table(metadata)
