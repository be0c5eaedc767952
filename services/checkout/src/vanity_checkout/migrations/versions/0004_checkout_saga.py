"""checkout saga: order details (failure reason, refunds, address, payment, shipment), the
`sagas` table (state, step, attempts, due time, lease, version) and the append-only `saga_log`

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# vanity_common.db.UTCDateTime: naive UTC, microseconds on MySQL/MariaDB (DATETIME(6)).
UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("refunded_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("shipping_address", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("payment_status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("client_secret", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("tracking_number", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("carrier", sa.String(length=64), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_orders_refunded_non_negative"), "refunded_minor >= 0"
        )
        batch_op.create_index("ix_orders_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_status_created_at", ["status", "created_at", "id"], unique=False
        )

    op.create_table(
        "sagas",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("failure_reason", sa.String(length=40), nullable=True),
        sa.Column("compensate_from", sa.String(length=32), nullable=True),
        sa.Column("payment_method", sa.String(length=255), nullable=False),
        sa.Column("address_id", sa.String(length=64), nullable=True),
        sa.Column("expected_total_minor", sa.BigInteger(), nullable=True),
        sa.Column("payment_outcome", sa.String(length=16), nullable=True),
        sa.Column("wait_until", UTC_DATETIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("lease_owner", sa.String(length=80), nullable=True),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_sagas_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_sagas")),
    )
    op.create_index("ix_sagas_state_next_attempt_at", "sagas", ["state", "next_attempt_at"])

    op.create_table(
        "saga_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("from_step", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("to_step", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saga_log")),
    )
    op.create_index("ix_saga_log_order_id", "saga_log", ["order_id", "id"])


def downgrade() -> None:
    op.drop_table("saga_log")
    op.drop_table("sagas")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_created_at")
        batch_op.drop_index("ix_orders_created_at")
        batch_op.drop_constraint(op.f("ck_orders_refunded_non_negative"), type_="check")
        batch_op.drop_column("carrier")
        batch_op.drop_column("tracking_number")
        batch_op.drop_column("client_secret")
        batch_op.drop_column("payment_status")
        batch_op.drop_column("shipping_address")
        batch_op.drop_column("refunded_minor")
        batch_op.drop_column("failure_reason")
