"""messaging tables: transactional outbox and consumed-message dedupe (vanity_common.outbox)

Revision ID: 0002
Revises: 0001
"""

from vanity_common.outbox import create_messaging_tables, drop_messaging_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
