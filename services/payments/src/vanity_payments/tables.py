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

import sqlalchemy as sa
from vanity_common.db import (
    UTCDateTime,
    autoincrement_id,
    new_metadata,
    timestamp_columns,
)
from vanity_common.idempotency import idempotency_table

metadata = new_metadata()

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(36), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("refunded_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("provider_reference", sa.String(128), nullable=True),
    sa.Column("failure_reason", sa.String(128), nullable=True),
    *timestamp_columns(),
    sa.Column("captured_minor", sa.BigInteger, nullable=False, server_default="0"),
    # What the provider was asked, so a retry after an unknown outcome re-sends the same request
    # under the same idempotency key.
    sa.Column("payment_method", sa.String(64), nullable=False, server_default=""),
    sa.Column("capture_method", sa.String(16), nullable=False, server_default="manual"),
    sa.Column("client_secret", sa.String(255), nullable=True),
    sa.CheckConstraint("amount_minor >= 0", name="amount_non_negative"),
    sa.CheckConstraint(
        "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_bounds"
    ),
    sa.CheckConstraint(
        "captured_minor >= 0 AND captured_minor <= amount_minor", name="captured_bounds"
    ),
    sa.CheckConstraint("refunded_minor <= captured_minor", name="refund_within_captured"),
    sa.Index("ix_payments_order_id", "order_id"),
    sa.Index("ix_payments_provider_reference", "provider_reference"),
    sa.Index("ix_payments_status", "status", "updated_at"),
)

provider_events = sa.Table(
    "provider_events",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),  # the provider's event id: processed once
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("processed_at", UTCDateTime, nullable=True),
)

payment_events = sa.Table(
    "payment_events",
    metadata,
    autoincrement_id(),
    sa.Column(
        "payment_id",
        sa.String(36),
        sa.ForeignKey("payments.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("transition", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(32), nullable=False),
    sa.Column("to_status", sa.String(32), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
    sa.Column("provider_event_id", sa.String(128), nullable=True),
    sa.Column("failure_reason", sa.String(128), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("amount_minor >= 0", name="amount_non_negative"),
    sa.Index("ix_payment_events_payment_id_id", "payment_id", "id"),
    sa.Index("ix_payment_events_provider_event_id", "provider_event_id"),
)

mock_intents = sa.Table(
    "mock_intents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("payment_id", sa.String(36), nullable=True),  # from the intent's metadata
    sa.Column("record", sa.Text, nullable=False),  # the MockIntent as JSON
    *timestamp_columns(),
    sa.Index("ix_mock_intents_payment_id", "payment_id"),
)

mock_refunds = sa.Table(
    "mock_refunds",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("payment_intent_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_mock_refunds_payment_intent_id", "payment_intent_id"),
)

mock_idempotency = sa.Table(
    "mock_idempotency",
    metadata,
    sa.Column("idempotency_key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("http_status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

payment_refunds = sa.Table(
    "payment_refunds",
    metadata,
    autoincrement_id(),
    sa.Column(
        "payment_id",
        sa.String(36),
        sa.ForeignKey("payments.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # resolved when first asked
    sa.Column("status", sa.String(16), nullable=False),  # requested | succeeded | refused
    sa.Column("provider_refund_id", sa.String(128), nullable=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(255), nullable=False),
    *timestamp_columns(),
    sa.CheckConstraint("amount_minor > 0", name="amount_positive"),
    sa.UniqueConstraint("payment_id", "idempotency_key", name="uq_payment_refunds_payment_key"),
)

# HTTP Idempotency-Key records (vanity_common.idempotency), for the admin refund route.
idempotency_keys = idempotency_table(metadata)
