"""Payments' schema.

- `payments`: one money movement attempt for an order (status and amounts as `domain.Payment`);
- `payment_events`: the append-only ledger of its transitions (triggers refuse UPDATE/DELETE);
- `provider_events`: the provider's webhook events already processed;
- `payment_refunds`: one row per refund request (payment + the caller's key), so a retried refund
  re-sends the same amount under the same provider key instead of refunding twice;
- `idempotency_keys`: HTTP Idempotency-Key answers (vanity_common.idempotency), admin refunds;
- `mock_intents`, `mock_refunds`, `mock_idempotency`: the mock provider's own state (what Stripe
  keeps on its side), used only when PAYMENT_PROVIDER=mock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from vanity_common.db import UTCDateTime, autoincrement_id, new_metadata, timestamp_columns
from vanity_common.idempotency import idempotency_table

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
    *timestamp_columns(),
    Column("captured_minor", BigInteger, nullable=False, server_default="0"),
    # What the provider was asked, so a retry after an unknown outcome re-sends the same request
    # under the same idempotency key.
    Column("payment_method", String(64), nullable=False, server_default=""),
    Column("capture_method", String(16), nullable=False, server_default="manual"),
    Column("client_secret", String(255), nullable=True),
    CheckConstraint("amount_minor >= 0", name="amount_non_negative"),
    CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_bounds"),
    CheckConstraint(
        "captured_minor >= 0 AND captured_minor <= amount_minor", name="captured_bounds"
    ),
    CheckConstraint("refunded_minor <= captured_minor", name="refund_within_captured"),
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

payment_events = Table(
    "payment_events",
    metadata,
    autoincrement_id(),
    Column(
        "payment_id", String(36), ForeignKey("payments.id", ondelete="RESTRICT"), nullable=False
    ),
    Column("transition", String(32), nullable=False),
    Column("from_status", String(32), nullable=False),
    Column("to_status", String(32), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("reason", String(255), nullable=False),
    Column("provider_event_id", String(128), nullable=True),
    Column("failure_reason", String(128), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount_minor >= 0", name="amount_non_negative"),
    Index("ix_payment_events_payment_id_id", "payment_id", "id"),
    Index("ix_payment_events_provider_event_id", "provider_event_id"),
)

mock_intents = Table(
    "mock_intents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("payment_id", String(36), nullable=True),  # from the intent's metadata
    Column("record", Text, nullable=False),  # the MockIntent as JSON
    *timestamp_columns(),
    Index("ix_mock_intents_payment_id", "payment_id"),
)

mock_refunds = Table(
    "mock_refunds",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("payment_intent_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_mock_refunds_payment_intent_id", "payment_intent_id"),
)

mock_idempotency = Table(
    "mock_idempotency",
    metadata,
    Column("idempotency_key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

payment_refunds = Table(
    "payment_refunds",
    metadata,
    autoincrement_id(),
    Column(
        "payment_id", String(36), ForeignKey("payments.id", ondelete="RESTRICT"), nullable=False
    ),
    Column("idempotency_key", String(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # resolved when first asked
    Column("status", String(16), nullable=False),  # requested | succeeded | refused
    Column("provider_refund_id", String(128), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("reason", String(255), nullable=False),
    *timestamp_columns(),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    UniqueConstraint("payment_id", "idempotency_key", name="uq_payment_refunds_payment_key"),
)

# HTTP Idempotency-Key records (vanity_common.idempotency), for the admin refund route.
idempotency_keys = idempotency_table(metadata)
