"""messaging tables: transactional outbox and consumed-message dedupe (vanity_common.outbox)

Revision ID: 0003
Revises: 0002
"""

from vanity_common.outbox import create_messaging_tables, drop_messaging_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
