"""Cart's schema: carts (a signed-in user's or a guest's), their lines, the checkout lock.

A guest cart is found by the SHA-256 of its opaque token, never by the token itself. A guest
cart merged into a user's cart keeps a row (`merged_into`) so a repeated merge is a no-op and
its token stops working; the expiry job deletes it later with the abandoned ones.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
)
from vanity_common.db import UTCDateTime, new_metadata, timestamp_columns
from vanity_common.idempotency import idempotency_table

metadata = new_metadata()

carts = Table(
    "carts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(64), nullable=True, unique=True),
    Column("guest_token_hash", String(64), nullable=True, unique=True),
    # Bumps on every change of the lines: the ETag / If-Match value.
    Column("version", BigInteger, nullable=False, server_default="0"),
    Column("locked_by", String(64), nullable=True),  # the checkout holding the lock
    Column("locked_at", UTCDateTime, nullable=True),
    Column("cleared_by", String(64), nullable=True),  # last checkout that emptied it (replays)
    Column("merged_into", String(32), nullable=True),  # guest cart: the user cart it joined
    *timestamp_columns(),
    CheckConstraint(
        "(user_id IS NULL AND guest_token_hash IS NOT NULL)"
        " OR (user_id IS NOT NULL AND guest_token_hash IS NULL)",
        name="one_owner",
    ),
    CheckConstraint("version >= 0", name="version_non_negative"),
    # The expiry job: the oldest guest carts first.
    Index("ix_carts_updated_at", "updated_at"),
)

cart_lines = Table(
    "cart_lines",
    metadata,
    Column("cart_id", String(32), ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("quantity", BigInteger, nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

# Stored answers of `POST /api/v1/cart/items` sent with an Idempotency-Key (vanity_common).
idempotency_keys = idempotency_table(metadata)
