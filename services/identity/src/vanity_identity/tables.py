"""Identity's schema (SQLAlchemy Core). Owned by this service only.

Secrets are never stored in the clear: passwords as argon2id hashes, refresh and reset tokens as
SHA-256 hex digests. Times are UTC (stored naive by SQLite/MariaDB, made aware on read).
"""

from __future__ import annotations

import sqlalchemy as sa
from vanity_common.db import UTCDateTime, new_metadata, timestamp_columns

metadata = new_metadata()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    # ",customer," / ",admin,customer,": comma-framed, so `LIKE '%,admin,%'` finds a role.
    sa.Column("roles", sa.String(64), nullable=False),
    sa.Column("permissions", sa.String(128), nullable=False, server_default=""),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
    sa.Column("password_changed_at", UTCDateTime, nullable=False),
    *timestamp_columns(),
    sa.Index("ix_users_created_at", "created_at"),
)

# A refresh-token family: one sign-in, rotated on every refresh (`sid` in access tokens).
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "user_id",
        sa.String(32),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Column("revoke_reason", sa.String(32), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(255), nullable=True),
    sa.Index("ix_sessions_user_id", "user_id"),
    sa.Index("ix_sessions_expires_at", "expires_at"),
    # Every service's verifier polls the sessions ended since its last look (ListEndedSessions).
    sa.Index("ix_sessions_revoked_at", "revoked_at", "id"),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    # Set when the token is rotated: presenting it again is reuse.
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Index("ix_refresh_tokens_session_id", "session_id"),
    sa.Index("ix_refresh_tokens_expires_at", "expires_at"),
)

password_reset_tokens = sa.Table(
    "password_reset_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id",
        sa.String(32),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Index("ix_password_reset_tokens_user_id", "user_id"),
    sa.Index("ix_password_reset_tokens_expires_at", "expires_at"),
)

addresses = sa.Table(
    "addresses",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "user_id",
        sa.String(32),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("label", sa.String(50), nullable=False, server_default=""),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("line1", sa.String(200), nullable=False),
    sa.Column("line2", sa.String(200), nullable=False, server_default=""),
    sa.Column("city", sa.String(100), nullable=False),
    sa.Column("region", sa.String(100), nullable=False, server_default=""),
    sa.Column("postal_code", sa.String(20), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("phone", sa.String(40), nullable=False, server_default=""),
    sa.Column("is_default_shipping", sa.Boolean, nullable=False, server_default="0"),
    sa.Column("is_default_billing", sa.Boolean, nullable=False, server_default="0"),
    *timestamp_columns(),
    sa.Index("ix_addresses_user_id", "user_id"),
)
