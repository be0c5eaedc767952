"""Cart's schema: carts (a signed-in user's or a guest's), their lines, the checkout lock.

A guest cart is found by the SHA-256 of its opaque token, never by the token itself. A guest
cart merged into a user's cart keeps a row (`merged_into`) so a repeated merge is a no-op and
its token stops working; the expiry job deletes it later with the abandoned ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from vanity_common.db import UTCDateTime, new_metadata, timestamp_columns
from vanity_common.idempotency import idempotency_table

metadata = new_metadata()

carts = sa.Table(
    "carts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=True, unique=True),
    sa.Column("guest_token_hash", sa.String(64), nullable=True, unique=True),
    # Bumps on every change of the lines: the ETag / If-Match value.
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("locked_by", sa.String(64), nullable=True),  # the checkout holding the lock
    sa.Column("locked_at", UTCDateTime, nullable=True),
    sa.Column(
        "cleared_by", sa.String(64), nullable=True
    ),  # last checkout that emptied it (replays)
    sa.Column("merged_into", sa.String(32), nullable=True),  # guest cart: the user cart it joined
    *timestamp_columns(),
    sa.CheckConstraint(
        "(user_id IS NULL AND guest_token_hash IS NOT NULL)"
        " OR (user_id IS NOT NULL AND guest_token_hash IS NULL)",
        name="one_owner",
    ),
    sa.CheckConstraint("version >= 0", name="version_non_negative"),
    # The expiry job: the oldest guest carts first.
    sa.Index("ix_carts_updated_at", "updated_at"),
)

cart_lines = sa.Table(
    "cart_lines",
    metadata,
    sa.Column(
        "cart_id",
        sa.String(32),
        sa.ForeignKey("carts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("sku", sa.String(64), primary_key=True),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
)

# Stored answers of `POST /api/v1/cart/items` sent with an Idempotency-Key (vanity_common).
idempotency_keys = idempotency_table(metadata)
