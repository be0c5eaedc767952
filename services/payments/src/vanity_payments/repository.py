"""Persistence for payments."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_payments.domain import Payment, PaymentStatus
from vanity_payments.tables import payments


def _payment(row) -> Payment:
    return Payment(
        id=row.id,
        order_id=row.order_id,
        status=PaymentStatus(row.status),
        amount_minor=int(row.amount_minor),
        refunded_minor=int(row.refunded_minor),
        currency=row.currency,
        provider=row.provider,
        provider_reference=row.provider_reference,
        failure_reason=row.failure_reason,
    )


async def get_payment(conn: AsyncConnection, payment_id: str) -> Payment | None:
    row = (await conn.execute(select(payments).where(payments.c.id == payment_id))).first()
    return _payment(row) if row else None


async def latest_for_order(conn: AsyncConnection, order_id: str) -> Payment | None:
    row = (
        await conn.execute(
            select(payments)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return _payment(row) if row else None


async def list_payments(conn: AsyncConnection, limit: int) -> list[Payment]:
    rows = await conn.execute(
        select(payments).order_by(payments.c.created_at.desc(), payments.c.id).limit(limit)
    )
    return [_payment(r) for r in rows]
