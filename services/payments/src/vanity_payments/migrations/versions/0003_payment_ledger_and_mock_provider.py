"""payment ledger, captured amounts, mock provider state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:56:07.462167
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# vanity_common.db.UTCDateTime: naive UTC, microseconds on MySQL/MariaDB (DATETIME(6)).
UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LEDGER_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# payment_events is append-only: the database itself refuses UPDATE and DELETE.
_LEDGER_TRIGGERS = ("payment_events_no_update", "payment_events_no_delete")


def _create_ledger_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for name, action in zip(_LEDGER_TRIGGERS, ("UPDATE", "DELETE")):
        if dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON payment_events "
                "BEGIN SELECT RAISE(ABORT, 'payment_events is append-only'); END"
            )
        elif dialect in ("mysql", "mariadb"):
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON payment_events FOR EACH ROW "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'payment_events is append-only'"
            )


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('captured_minor', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('payment_method', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('capture_method', sa.String(length=16), server_default='manual', nullable=False))
        batch_op.add_column(sa.Column('client_secret', sa.String(length=255), nullable=True))
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_payments_captured_bounds'),
            'captured_minor >= 0 AND captured_minor <= amount_minor',
        )
        batch_op.create_check_constraint(
            op.f('ck_payments_refund_within_captured'), 'refunded_minor <= captured_minor'
        )

    op.create_table('payment_events',
    sa.Column('id', LEDGER_ID, autoincrement=True, nullable=False),
    sa.Column('payment_id', sa.String(length=36), nullable=False),
    sa.Column('transition', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=False),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('provider_event_id', sa.String(length=128), nullable=True),
    sa.Column('failure_reason', sa.String(length=128), nullable=True),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_payment_events_amount_non_negative')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_events_payment_id_payments'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_events'))
    )
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.create_index('ix_payment_events_payment_id_id', ['payment_id', 'id'], unique=False)
        batch_op.create_index('ix_payment_events_provider_event_id', ['provider_event_id'], unique=False)
    _create_ledger_triggers()

    op.create_table('mock_intents',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('payment_id', sa.String(length=36), nullable=True),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.Column('updated_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mock_intents'))
    )
    with op.batch_alter_table('mock_intents', schema=None) as batch_op:
        batch_op.create_index('ix_mock_intents_payment_id', ['payment_id'], unique=False)

    op.create_table('mock_refunds',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mock_refunds'))
    )
    with op.batch_alter_table('mock_refunds', schema=None) as batch_op:
        batch_op.create_index('ix_mock_refunds_payment_intent_id', ['payment_intent_id'], unique=False)

    op.create_table('mock_idempotency',
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', UTC_DATETIME, nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key', name=op.f('pk_mock_idempotency'))
    )


def downgrade() -> None:
    # Tables whole, children first (MySQL refuses to drop an index a foreign key still needs).
    op.drop_table('mock_idempotency')
    op.drop_table('mock_refunds')
    op.drop_table('mock_intents')
    for name in _LEDGER_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('payment_events')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payments_refund_within_captured'), type_='check')
        batch_op.drop_constraint(op.f('ck_payments_captured_bounds'), type_='check')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('client_secret')
        batch_op.drop_column('capture_method')
        batch_op.drop_column('payment_method')
        batch_op.drop_column('captured_minor')
