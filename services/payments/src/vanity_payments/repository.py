"""Persistence for payments: the payments table and its append-only ledger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_payments.domain import Payment, PaymentEvent, PaymentStatus, Transition
from vanity_payments.tables import payment_events, payment_refunds, payments, provider_events


@dataclass(frozen=True)
class StoredCharge:
    """A payment with what was asked for it: a retried Charge must ask exactly the same."""

    payment: Payment
    user_id: str
    idempotency_key: str
    payment_method: str
    capture_method: str


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
        captured_minor=int(row.captured_minor),
        client_secret=row.client_secret,
    )


def _event(row) -> PaymentEvent:
    return PaymentEvent(
        payment_id=row.payment_id,
        transition=Transition(row.transition),
        from_status=PaymentStatus(row.from_status),
        to_status=PaymentStatus(row.to_status),
        amount_minor=int(row.amount_minor),
        actor=row.actor,
        reason=row.reason,
        provider_event_id=row.provider_event_id,
        failure_reason=row.failure_reason,
    )


# The hot statements, built once with bind parameters: SQLAlchemy keys (caches) each once.
_INSERT_PAYMENT = insert(payments)
_PAYMENT = select(payments).where(payments.c.id == bindparam("key_payment_id"))
_PAYMENT_FOR_UPDATE = _PAYMENT.with_for_update()
_CHARGE_BY_KEY = select(payments).where(
    payments.c.idempotency_key == bindparam("key_idempotency_key")
)
_BY_PROVIDER_REFERENCE = select(payments).where(
    payments.c.provider_reference == bindparam("key_intent_id")
)
_SAVE_TRANSITION = update(payments).where(
    payments.c.id == bindparam("before_id"),
    payments.c.status == bindparam("before_status"),
    payments.c.captured_minor == bindparam("before_captured_minor"),
    payments.c.refunded_minor == bindparam("before_refunded_minor"),
)


async def insert_payment(
    conn: AsyncConnection,
    payment: Payment,
    *,
    user_id: str,
    idempotency_key: str,
    payment_method: str,
    capture_method: str,
    now: datetime,
) -> None:
    """A new (pending) payment; the unique idempotency key refuses a second one for the key."""
    await conn.execute(
        _INSERT_PAYMENT,
        {
            "id": payment.id,
            "order_id": payment.order_id,
            "user_id": user_id,
            "idempotency_key": idempotency_key,
            "status": payment.status.value,
            "amount_minor": payment.amount_minor,
            "refunded_minor": payment.refunded_minor,
            "captured_minor": payment.captured_minor,
            "currency": payment.currency,
            "provider": payment.provider,
            "provider_reference": payment.provider_reference,
            "failure_reason": payment.failure_reason,
            "client_secret": payment.client_secret,
            "payment_method": payment_method,
            "capture_method": capture_method,
            "created_at": now,
            "updated_at": now,
        },
    )


async def get_payment(
    conn: AsyncConnection, payment_id: str, *, for_update: bool = False
) -> Payment | None:
    query = _PAYMENT_FOR_UPDATE if for_update else _PAYMENT
    row = (await conn.execute(query, {"key_payment_id": payment_id})).first()
    return _payment(row) if row else None


async def get_charge_by_key(conn: AsyncConnection, idempotency_key: str) -> StoredCharge | None:
    row = (await conn.execute(_CHARGE_BY_KEY, {"key_idempotency_key": idempotency_key})).first()
    if row is None:
        return None
    return StoredCharge(
        payment=_payment(row),
        user_id=row.user_id,
        idempotency_key=row.idempotency_key,
        payment_method=row.payment_method,
        capture_method=row.capture_method,
    )


async def get_charge(conn: AsyncConnection, payment_id: str) -> StoredCharge | None:
    row = (
        await conn.execute(select(payments.c.idempotency_key).where(payments.c.id == payment_id))
    ).first()
    return await get_charge_by_key(conn, row.idempotency_key) if row else None


async def find_by_provider_reference(conn: AsyncConnection, intent_id: str) -> Payment | None:
    row = (await conn.execute(_BY_PROVIDER_REFERENCE, {"key_intent_id": intent_id})).first()
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


@dataclass(frozen=True)
class PaymentRow:
    """A payment with its bookkeeping times (admin views and cursors)."""

    payment: Payment
    user_id: str
    created_at: datetime
    updated_at: datetime


async def get_payment_row(conn: AsyncConnection, payment_id: str) -> PaymentRow | None:
    row = (await conn.execute(select(payments).where(payments.c.id == payment_id))).first()
    return PaymentRow(_payment(row), row.user_id, row.created_at, row.updated_at) if row else None


@dataclass(frozen=True)
class PaymentFilter:
    status: PaymentStatus | None = None
    order_id: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive


async def list_payments(
    conn: AsyncConnection,
    limit: int,
    filters: PaymentFilter = PaymentFilter(),
    after: tuple[datetime, str] | None = None,
) -> list[PaymentRow]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    query = select(payments).order_by(payments.c.created_at.desc(), payments.c.id.desc())
    if filters.status is not None:
        query = query.where(payments.c.status == filters.status.value)
    if filters.order_id is not None:
        query = query.where(payments.c.order_id == filters.order_id)
    if filters.created_from is not None:
        query = query.where(payments.c.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(payments.c.created_at < filters.created_to)
    if after is not None:
        created_at, payment_id = after
        query = query.where(
            or_(
                payments.c.created_at < created_at,
                and_(payments.c.created_at == created_at, payments.c.id < payment_id),
            )
        )
    rows = await conn.execute(query.limit(limit))
    return [PaymentRow(_payment(r), r.user_id, r.created_at, r.updated_at) for r in rows]


async def stuck_payments(
    conn: AsyncConnection,
    statuses: Iterable[PaymentStatus],
    updated_before: datetime,
    limit: int,
) -> list[Payment]:
    """Payments left in `statuses` since before `updated_before` (reconciliation's work)."""
    rows = await conn.execute(
        select(payments)
        .where(
            payments.c.status.in_([s.value for s in statuses]),
            payments.c.updated_at < updated_before,
        )
        .order_by(payments.c.updated_at, payments.c.id)
        .limit(limit)
    )
    return [_payment(r) for r in rows]


async def set_provider_reference(
    conn: AsyncConnection,
    payment_id: str,
    intent_id: str,
    client_secret: str | None,
    now: datetime,
) -> None:
    """Links the payment to its intent; the first link wins (a retry answers the same id)."""
    await conn.execute(
        update(payments)
        .where(payments.c.id == payment_id, payments.c.provider_reference.is_(None))
        .values(provider_reference=intent_id, client_secret=client_secret, updated_at=now)
    )


async def save_transitions(
    conn: AsyncConnection,
    before: Payment,
    after: Payment,
    events: Sequence[PaymentEvent],
    now: datetime,
) -> bool:
    """Stores `after` and its ledger rows only if the row still is `before` (compare and set):
    False means a concurrent transition won; re-read and decide again."""
    if not events:
        return True
    changed = await conn.execute(
        _SAVE_TRANSITION,
        {
            "before_id": before.id,
            "before_status": before.status.value,
            "before_captured_minor": before.captured_minor,
            "before_refunded_minor": before.refunded_minor,
            "status": after.status.value,
            "captured_minor": after.captured_minor,
            "refunded_minor": after.refunded_minor,
            "failure_reason": after.failure_reason,
            "client_secret": after.client_secret,
            "updated_at": now,
        },
    )
    if changed.rowcount != 1:
        return False
    await conn.execute(
        insert(payment_events),
        [
            {
                "payment_id": e.payment_id,
                "transition": e.transition.value,
                "from_status": e.from_status.value,
                "to_status": e.to_status.value,
                "amount_minor": e.amount_minor,
                "actor": e.actor[:128],
                "reason": e.reason[:255],
                "provider_event_id": e.provider_event_id,
                "failure_reason": e.failure_reason,
                "created_at": now,
            }
            for e in events
        ],
    )
    return True


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    event: PaymentEvent
    created_at: datetime


async def ledger(conn: AsyncConnection, payment_id: str) -> list[LedgerEntry]:
    rows = await conn.execute(
        select(payment_events)
        .where(payment_events.c.payment_id == payment_id)
        .order_by(payment_events.c.id)
    )
    return [LedgerEntry(int(r.id), _event(r), r.created_at) for r in rows]


# ------------------------------------------------------------------------------------ refunds


@dataclass(frozen=True)
class RefundRequest:
    payment_id: str
    idempotency_key: str
    amount_minor: int
    status: str  # requested | succeeded | refused
    provider_refund_id: str | None


REFUND_REQUESTED, REFUND_SUCCEEDED, REFUND_REFUSED = "requested", "succeeded", "refused"


async def get_refund(
    conn: AsyncConnection, payment_id: str, idempotency_key: str
) -> RefundRequest | None:
    row = (
        await conn.execute(
            select(payment_refunds).where(
                payment_refunds.c.payment_id == payment_id,
                payment_refunds.c.idempotency_key == idempotency_key,
            )
        )
    ).first()
    if row is None:
        return None
    return RefundRequest(
        row.payment_id,
        row.idempotency_key,
        int(row.amount_minor),
        row.status,
        row.provider_refund_id,
    )


async def requested_refunds_minor(conn: AsyncConnection, payment_id: str) -> int:
    """Money asked back but not yet confirmed by the provider (counts against the remainder)."""
    total = (
        await conn.execute(
            select(func.coalesce(func.sum(payment_refunds.c.amount_minor), 0)).where(
                payment_refunds.c.payment_id == payment_id,
                payment_refunds.c.status == REFUND_REQUESTED,
            )
        )
    ).scalar_one()
    return int(total)


async def insert_refund(
    conn: AsyncConnection,
    payment_id: str,
    idempotency_key: str,
    amount_minor: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """The unique (payment, key) refuses a second request under the key."""
    await conn.execute(
        insert(payment_refunds).values(
            payment_id=payment_id,
            idempotency_key=idempotency_key,
            amount_minor=amount_minor,
            status=REFUND_REQUESTED,
            actor=actor[:128],
            reason=reason[:255],
            created_at=now,
            updated_at=now,
        )
    )


async def settle_refund(
    conn: AsyncConnection,
    payment_id: str,
    idempotency_key: str,
    *,
    status: str,
    refund_id: str | None,
    now: datetime,
) -> None:
    """The provider answered: succeeded (with its refund id) or refused (nothing returned)."""
    await conn.execute(
        update(payment_refunds)
        .where(
            payment_refunds.c.payment_id == payment_id,
            payment_refunds.c.idempotency_key == idempotency_key,
        )
        .values(status=status, provider_refund_id=refund_id, updated_at=now)
    )


async def record_provider_event(
    conn: AsyncConnection, event_id: str, event_type: str, payload: str, now: datetime
) -> None:
    """The webhook event as received (for audits), once its effect is stored."""
    await conn.execute(
        insert(provider_events).values(
            id=event_id, type=event_type, payload=payload, received_at=now, processed_at=now
        )
    )


async def list_events(conn: AsyncConnection, payment_id: str) -> list[PaymentEvent]:
    rows = await conn.execute(
        select(payment_events)
        .where(payment_events.c.payment_id == payment_id)
        .order_by(payment_events.c.id)
    )
    return [_event(r) for r in rows]
