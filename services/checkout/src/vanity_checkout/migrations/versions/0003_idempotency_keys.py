"""idempotency keys: stored answers of POSTs sent with an Idempotency-Key (vanity_common.idempotency)

Revision ID: 0003
Revises: 0002
"""

from vanity_common.idempotency import create_idempotency_table, drop_idempotency_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table()


def downgrade() -> None:
    drop_idempotency_table()
