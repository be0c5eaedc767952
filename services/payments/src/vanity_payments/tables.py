"""Payments' schema: payments and the provider events already processed."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, Table, Text
from vanity_common.db import UTCDateTime, new_metadata

metadata = new_metadata()

payments = Table(
    "payments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    Column("currency", String(3), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("provider_reference", String(128), nullable=True),
    Column("failure_reason", String(128), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("amount_minor >= 0", name="amount_non_negative"),
    CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_bounds"),
    Index("ix_payments_order_id", "order_id"),
    Index("ix_payments_provider_reference", "provider_reference"),
    Index("ix_payments_status", "status", "updated_at"),
)

provider_events = Table(
    "provider_events",
    metadata,
    Column("id", String(128), primary_key=True),  # the provider's event id: processed once
    Column("type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime, nullable=True),
)
