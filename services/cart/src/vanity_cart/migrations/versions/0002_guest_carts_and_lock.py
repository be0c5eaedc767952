"""carts keyed by id: guest carts (token hash), merge, checkout lock, version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 11:00:00

The baseline keyed a cart by user id. Carts now have their own id so a guest (no user id) can
own one, found by the SHA-256 of its opaque token. Existing user carts and their lines are
copied across; a downgrade copies user carts back and drops guest carts.
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# vanity_common.db.UTCDateTime: naive UTC, microseconds on MySQL/MariaDB (DATETIME(6)).
UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _create_cart_tables() -> None:
    op.create_table(
        "carts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("guest_token_hash", sa.String(length=64), nullable=True),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("locked_at", UTC_DATETIME, nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL AND guest_token_hash IS NOT NULL)"
            " OR (user_id IS NOT NULL AND guest_token_hash IS NULL)",
            name=op.f("ck_carts_one_owner"),
        ),
        sa.CheckConstraint("version >= 0", name=op.f("ck_carts_version_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carts")),
        sa.UniqueConstraint("user_id", name=op.f("uq_carts_user_id")),
        sa.UniqueConstraint("guest_token_hash", name=op.f("uq_carts_guest_token_hash")),
    )
    op.create_index(op.f("ix_carts_updated_at"), "carts", ["updated_at"], unique=False)
    op.create_table(
        "cart_lines",
        sa.Column("cart_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("added_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_cart_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["cart_id"],
            ["carts.id"],
            name=op.f("fk_cart_lines_cart_id_carts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cart_id", "sku", name=op.f("pk_cart_lines")),
    )


def _create_baseline_tables() -> None:
    op.create_table(
        "carts",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_carts")),
    )
    op.create_table(
        "cart_items",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("added_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_cart_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["carts.user_id"],
            name=op.f("fk_cart_items_user_id_carts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "sku", name=op.f("pk_cart_items")),
    )


def _naive(value):
    """Rows read through plain Core come back naive (UTC); make sure of it when they do not."""
    if value is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def upgrade() -> None:
    bind = op.get_bind()
    op.rename_table("cart_items", "legacy_cart_items")
    op.rename_table("carts", "legacy_carts")
    _create_cart_tables()

    legacy = bind.execute(
        sa.text("SELECT user_id, version, locked_by, updated_at FROM legacy_carts")
    ).all()
    ids = {}
    for row in legacy:
        ids[row.user_id] = uuid.uuid4().hex
        updated = _naive(row.updated_at)
        bind.execute(
            sa.text(
                "INSERT INTO carts (id, user_id, version, locked_by, locked_at, created_at,"
                " updated_at) VALUES (:id, :user_id, :version, :locked_by, :locked_at,"
                " :updated, :updated)"
            ),
            {
                "id": ids[row.user_id],
                "user_id": row.user_id,
                "version": row.version,
                "locked_by": row.locked_by,
                "locked_at": updated if row.locked_by else None,
                "updated": updated,
            },
        )
    for row in bind.execute(
        sa.text("SELECT user_id, sku, quantity, added_at FROM legacy_cart_items")
    ).all():
        bind.execute(
            sa.text(
                "INSERT INTO cart_lines (cart_id, sku, quantity, added_at)"
                " VALUES (:cart_id, :sku, :quantity, :added_at)"
            ),
            {
                "cart_id": ids[row.user_id],
                "sku": row.sku,
                "quantity": row.quantity,
                "added_at": _naive(row.added_at),
            },
        )
    op.drop_table("legacy_cart_items")
    op.drop_table("legacy_carts")


def downgrade() -> None:
    bind = op.get_bind()
    op.rename_table("cart_lines", "new_cart_lines")
    op.rename_table("carts", "new_carts")
    _create_baseline_tables()
    bind.execute(
        sa.text(
            "INSERT INTO carts (user_id, version, locked_by, updated_at)"
            " SELECT user_id, version, locked_by, updated_at FROM new_carts"
            " WHERE user_id IS NOT NULL"
        )
    )
    bind.execute(
        sa.text(
            "INSERT INTO cart_items (user_id, sku, quantity, added_at)"
            " SELECT c.user_id, l.sku, l.quantity, l.added_at FROM new_cart_lines l"
            " JOIN new_carts c ON c.id = l.cart_id WHERE c.user_id IS NOT NULL"
        )
    )
    op.drop_table("new_cart_lines")
    op.drop_index(op.f("ix_carts_updated_at"), table_name="new_carts")
    op.drop_table("new_carts")
