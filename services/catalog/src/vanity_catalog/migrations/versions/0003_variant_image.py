"""variant image: a variant's own picture (a shade swatch), an image key or a URL

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variants", schema=None) as batch_op:
        batch_op.drop_column("image")
