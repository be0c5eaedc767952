"""Identity's schema (SQLAlchemy Core). Owned by this service only.

Secrets are never stored in the clear: passwords as argon2id hashes, refresh and reset tokens as
SHA-256 hex digests. Times are UTC (stored naive by SQLite/MariaDB, made aware on read).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table
from vanity_common.db import UTCDateTime, new_metadata, timestamp_columns

metadata = new_metadata()

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    # ",customer," / ",admin,customer,": comma-framed, so `LIKE '%,admin,%'` finds a role.
    Column("roles", String(64), nullable=False),
    Column("permissions", String(128), nullable=False, server_default=""),
    Column("disabled_at", UTCDateTime, nullable=True),
    Column("password_changed_at", UTCDateTime, nullable=False),
    *timestamp_columns(),
    Index("ix_users_created_at", "created_at"),
)

# A refresh-token family: one sign-in, rotated on every refresh (`sid` in access tokens).
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revoke_reason", String(32), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(255), nullable=True),
    Index("ix_sessions_user_id", "user_id"),
    Index("ix_sessions_expires_at", "expires_at"),
    # Every service's verifier polls the sessions ended since its last look (ListEndedSessions).
    Index("ix_sessions_revoked_at", "revoked_at", "id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(32), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # Set when the token is rotated: presenting it again is reuse.
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_refresh_tokens_session_id", "session_id"),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)

password_reset_tokens = Table(
    "password_reset_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Index("ix_password_reset_tokens_user_id", "user_id"),
    Index("ix_password_reset_tokens_expires_at", "expires_at"),
)

addresses = Table(
    "addresses",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(50), nullable=False, server_default=""),
    Column("full_name", String(200), nullable=False),
    Column("line1", String(200), nullable=False),
    Column("line2", String(200), nullable=False, server_default=""),
    Column("city", String(100), nullable=False),
    Column("region", String(100), nullable=False, server_default=""),
    Column("postal_code", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("phone", String(40), nullable=False, server_default=""),
    Column("is_default_shipping", Boolean, nullable=False, server_default="0"),
    Column("is_default_billing", Boolean, nullable=False, server_default="0"),
    *timestamp_columns(),
    Index("ix_addresses_user_id", "user_id"),
)
