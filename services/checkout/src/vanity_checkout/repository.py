"""Persistence for orders and their sagas (Core statements on the caller's connection).

Saga writes are fenced: `save_saga` changes a row only while the caller still holds its lease
and the row is at the version the caller read, so a worker whose lease ran out (and whose saga
another worker took over) can never overwrite what the new holder decided.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    LABEL_STYLE_TABLENAME_PLUS_COL,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_checkout.domain import (
    ACTIVE_SAGA_STATES,
    FailureReason,
    Order,
    OrderLine,
    OrderStatus,
    Saga,
    SagaEvent,
    SagaState,
    SagaStep,
    ShippingAddress,
)
from vanity_checkout.tables import order_items, orders, saga_log, sagas

# ------------------------------------------------------------------------------------ orders


def _address(value: Any) -> ShippingAddress | None:
    if not value:
        return None
    return ShippingAddress(**value)


def _order(row, lines: tuple[OrderLine, ...]) -> Order:
    return Order(
        id=row.id,
        user_id=row.user_id,
        status=OrderStatus(row.status),
        total_minor=int(row.total_minor),
        currency=row.currency,
        created_at=row.created_at,
        lines=lines,
        payment_id=row.payment_id,
        failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
        refunded_minor=int(row.refunded_minor or 0),
        shipping_address=_address(row.shipping_address),
        payment_status=row.payment_status,
        client_secret=row.client_secret,
        tracking_number=row.tracking_number,
        carrier=row.carrier,
        updated_at=row.updated_at,
    )


_ORDER = select(orders).where(orders.c.id == bindparam("key_id"))


async def get_order(conn: AsyncConnection, order_id: str) -> Order | None:
    """The order with its lines."""
    row = (await conn.execute(_ORDER, {"key_id": order_id})).first()
    if row is None:
        return None
    items = await conn.execute(
        select(order_items).where(order_items.c.order_id == order_id).order_by(order_items.c.id)
    )
    lines = tuple(
        OrderLine(i.sku, i.name, int(i.quantity), int(i.unit_price_minor), i.currency)
        for i in items
    )
    return _order(row, lines)


async def list_orders(conn: AsyncConnection, user_id: str, limit: int) -> list[Order]:
    rows = await conn.execute(
        select(orders)
        .where(orders.c.user_id == user_id)
        .order_by(orders.c.created_at.desc(), orders.c.id.desc())
        .limit(limit)
    )
    return [_order(row, ()) for row in rows]


async def page_orders(
    conn: AsyncConnection,
    *,
    limit: int,
    user_id: str | None = None,
    status: OrderStatus | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[Order]:
    """Newest first, keyset-paged: `after` is the (created_at, id) of the previous page's last
    order. Lines are not loaded (a list shows totals; `get_order` has the lines)."""
    query = select(orders)
    if user_id is not None:
        query = query.where(orders.c.user_id == user_id)
    if status is not None:
        query = query.where(orders.c.status == status.value)
    if created_from is not None:
        query = query.where(orders.c.created_at >= created_from)
    if created_before is not None:
        query = query.where(orders.c.created_at < created_before)
    if after is not None:
        created_at, order_id = after
        query = query.where(
            or_(
                orders.c.created_at < created_at,
                and_(orders.c.created_at == created_at, orders.c.id < order_id),
            )
        )
    rows = await conn.execute(
        query.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
    )
    return [_order(row, ()) for row in rows]


async def order_id_for_key(conn: AsyncConnection, user_id: str, idempotency_key: str) -> str | None:
    return (
        await conn.execute(
            select(orders.c.id).where(
                orders.c.user_id == user_id, orders.c.idempotency_key == idempotency_key
            )
        )
    ).scalar_one_or_none()


async def insert_order(
    conn: AsyncConnection, order: Order, idempotency_key: str, now: datetime
) -> None:
    await conn.execute(
        insert(orders).values(
            id=order.id,
            user_id=order.user_id,
            status=order.status.value,
            idempotency_key=idempotency_key,
            total_minor=order.total_minor,
            currency=order.currency,
            shipping_address=asdict(order.shipping_address) if order.shipping_address else None,
            refunded_minor=0,
            created_at=now,
            updated_at=now,
        )
    )


_UPDATE_ORDER = update(orders).where(orders.c.id == bindparam("order_id"))


async def update_order(conn: AsyncConnection, order: Order, now: datetime) -> None:
    """Writes the order's mutable fields (its lines are written once, by `set_lines`)."""
    await conn.execute(
        _UPDATE_ORDER,
        dict(
            order_id=order.id,
            status=order.status.value,
            total_minor=order.total_minor,
            currency=order.currency,
            payment_id=order.payment_id,
            failure_reason=order.failure_reason.value if order.failure_reason else None,
            refunded_minor=order.refunded_minor,
            shipping_address=asdict(order.shipping_address) if order.shipping_address else None,
            payment_status=order.payment_status,
            client_secret=order.client_secret,
            tracking_number=order.tracking_number,
            carrier=order.carrier,
            updated_at=now,
        ),
    )


async def set_lines(conn: AsyncConnection, order_id: str, lines: tuple[OrderLine, ...]) -> None:
    await conn.execute(delete(order_items).where(order_items.c.order_id == order_id))
    if lines:
        await conn.execute(
            insert(order_items),
            [
                {
                    "order_id": order_id,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price_minor": line.unit_price_minor,
                    "currency": line.currency,
                }
                for line in lines
            ],
        )


# ------------------------------------------------------------------------------------- sagas


@dataclass(frozen=True)
class SagaRecord:
    """A saga row: the pure `Saga` plus what the orchestrator needs to run its steps."""

    saga: Saga
    payment_method: str
    address_id: str | None
    expected_total_minor: int | None
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None


def _record(row) -> SagaRecord:
    saga = Saga(
        order_id=row.order_id,
        state=SagaState(row.state),
        step=SagaStep(row.step),
        failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
        compensate_from=SagaStep(row.compensate_from) if row.compensate_from else None,
        payment_outcome=row.payment_outcome,
        wait_until=row.wait_until,
        version=int(row.version),
    )
    return SagaRecord(
        saga=saga,
        payment_method=row.payment_method,
        address_id=row.address_id,
        expected_total_minor=(
            int(row.expected_total_minor) if row.expected_total_minor is not None else None
        ),
        attempts=int(row.attempts),
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )


def _saga_values(saga: Saga) -> dict[str, Any]:
    return {
        "state": saga.state.value,
        "step": saga.step.value,
        "failure_reason": saga.failure_reason.value if saga.failure_reason else None,
        "compensate_from": saga.compensate_from.value if saga.compensate_from else None,
        "payment_outcome": saga.payment_outcome,
        "wait_until": saga.wait_until,
    }


async def insert_saga(
    conn: AsyncConnection,
    saga: Saga,
    *,
    payment_method: str,
    address_id: str | None,
    expected_total_minor: int | None,
    lease_owner: str,
    lease_until: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        insert(sagas).values(
            order_id=saga.order_id,
            **_saga_values(saga),
            payment_method=payment_method,
            address_id=address_id,
            expected_total_minor=expected_total_minor,
            attempts=0,
            # Due when the lease ends: if the holder dies, recovery finds it then.
            next_attempt_at=lease_until,
            lease_owner=lease_owner,
            lease_until=lease_until,
            version=0,
            created_at=now,
            updated_at=now,
        )
    )


_SAGA = select(sagas).where(sagas.c.order_id == bindparam("key_order_id"))
_SAGA_FOR_UPDATE = _SAGA.with_for_update()


async def get_saga(
    conn: AsyncConnection, order_id: str, *, for_update: bool = False
) -> SagaRecord | None:
    query = _SAGA_FOR_UPDATE if for_update else _SAGA
    row = (await conn.execute(query, {"key_order_id": order_id})).first()
    return _record(row) if row else None


class _Columns:
    """One table's columns of a joined row, read as attributes (as a single-table row is)."""

    __slots__ = ("_mapping", "_table")

    def __init__(self, row, table) -> None:
        self._mapping, self._table = row._mapping, table

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._table.c[name]]


# STRAIGHT_JOIN: MariaDB reads (and locks) the saga row before the order's, the order every
# other writer of both takes, so two of them cannot deadlock on the pair.
_SAGA_AND_ORDER_FOR_UPDATE = (
    select(sagas, orders)
    .prefix_with("STRAIGHT_JOIN", dialect="mysql")
    .join(orders, orders.c.id == sagas.c.order_id)
    .where(sagas.c.order_id == bindparam("key_order_id"))
    .set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
    .with_for_update()
)


async def lock_saga_with_order(
    conn: AsyncConnection, order_id: str, lines: tuple[OrderLine, ...]
) -> tuple[SagaRecord, Order] | None:
    """The saga, locked, with its order, in one statement: what a step's commit decides on.
    The caller holds the lines (they are written once)."""
    row = (await conn.execute(_SAGA_AND_ORDER_FOR_UPDATE, {"key_order_id": order_id})).first()
    if row is None:
        return None
    return _record(_Columns(row, sagas)), _order(_Columns(row, orders), lines)


def _lease_free(now: datetime):
    return or_(sagas.c.lease_until.is_(None), sagas.c.lease_until < now)


_ACTIVE = [s.value for s in ACTIVE_SAGA_STATES]


async def in_flight(conn: AsyncConnection) -> tuple[dict[str, int], datetime | None]:
    """Active sagas per state, and when the oldest of them started."""
    rows = await conn.execute(
        select(sagas.c.state, func.count(), func.min(sagas.c.created_at))
        .where(sagas.c.state.in_(_ACTIVE))
        .group_by(sagas.c.state)
    )
    found = rows.all()
    counts = {state: int(count) for state, count, _ in found}
    return counts, min((started for _, _, started in found if started), default=None)


async def claim_saga(
    conn: AsyncConnection,
    order_id: str,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    due_only: bool,
) -> bool:
    """Takes the lease of an active saga nobody holds (or whose holder's lease ran out).
    `due_only`: only when its next attempt is due or a payment outcome is waiting for it."""
    conditions = [sagas.c.order_id == order_id, sagas.c.state.in_(_ACTIVE), _lease_free(now)]
    if due_only:
        conditions.append(or_(sagas.c.next_attempt_at <= now, sagas.c.payment_outcome.is_not(None)))
    result = await conn.execute(
        update(sagas)
        .where(and_(*conditions))
        .values(lease_owner=owner, lease_until=lease_until, next_attempt_at=lease_until)
    )
    return result.rowcount == 1


async def claim_due(
    conn: AsyncConnection, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[str]:
    """Recovery: leases up to `limit` due sagas whose lease is free or ran out. `FOR UPDATE
    SKIP LOCKED` lets concurrent sweepers on MariaDB take disjoint batches without waiting;
    the lease then keeps them apart for the length of the work (SQLite serialises writers).
    A claim counts as an attempt: the holder before may have run the step already."""
    rows = await conn.execute(
        select(sagas.c.order_id)
        .where(sagas.c.state.in_(_ACTIVE), sagas.c.next_attempt_at <= now, _lease_free(now))
        .order_by(sagas.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    order_ids = [row.order_id for row in rows]
    if not order_ids:
        return []
    await conn.execute(
        update(sagas)
        .where(sagas.c.order_id.in_(order_ids), _lease_free(now))
        .values(
            lease_owner=owner,
            lease_until=lease_until,
            next_attempt_at=lease_until,
            attempts=sagas.c.attempts + 1,
        )
    )
    claimed = await conn.execute(
        select(sagas.c.order_id).where(
            sagas.c.order_id.in_(order_ids), sagas.c.lease_owner == owner
        )
    )
    return [row.order_id for row in claimed]


_SAVE_SAGA = update(sagas).where(
    sagas.c.order_id == bindparam("fence_order_id"),
    sagas.c.lease_owner == bindparam("fence_owner"),
    sagas.c.version == bindparam("fence_version"),
)


async def save_saga(
    conn: AsyncConnection,
    saga: Saga,
    *,
    owner: str,
    read_version: int,
    now: datetime,
    attempts: int,
    next_attempt_at: datetime,
    lease_until: datetime | None,
) -> bool:
    """Fenced write: False when the caller no longer holds the lease at `read_version`.
    `lease_until` None releases the lease."""
    result = await conn.execute(
        _SAVE_SAGA,
        dict(
            _saga_values(saga),
            fence_order_id=saga.order_id,
            fence_owner=owner,
            fence_version=read_version,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            lease_owner=owner if lease_until is not None else None,
            lease_until=lease_until,
            version=read_version + 1,
            updated_at=now,
        ),
    )
    return result.rowcount == 1


async def take_over_saga(
    conn: AsyncConnection,
    saga: Saga,
    *,
    owner: str,
    read_version: int,
    now: datetime,
    lease_until: datetime,
) -> bool:
    """Writes a transition decided outside the saga's own run (a cancellation) and takes the
    lease in the same statement: only when nobody holds the lease and the row is unchanged."""
    result = await conn.execute(
        update(sagas)
        .where(
            sagas.c.order_id == saga.order_id,
            sagas.c.version == read_version,
            _lease_free(now),
        )
        .values(
            **_saga_values(saga),
            attempts=0,
            next_attempt_at=lease_until,
            lease_owner=owner,
            lease_until=lease_until,
            version=read_version + 1,
            updated_at=now,
        )
    )
    return result.rowcount == 1


_PAYMENT_OUTCOME_STEPS = (
    SagaStep.RESERVE_STOCK,
    SagaStep.AUTHORIZE_PAYMENT,
    SagaStep.AWAIT_PAYMENT,
)


async def record_payment_outcome(
    conn: AsyncConnection, order_id: str, outcome: str, now: datetime
) -> bool:
    """Notes an asynchronously reported payment outcome on a saga that can still use it, and
    makes it due at once. Not fenced: it only wakes the saga; the holder acts on it."""
    result = await conn.execute(
        update(sagas)
        .where(
            sagas.c.order_id == order_id,
            sagas.c.state.in_([SagaState.RUNNING.value, SagaState.WAITING.value]),
            # RESERVE_STOCK: the authorize call chained to the reserve may be in flight.
            sagas.c.step.in_([s.value for s in _PAYMENT_OUTCOME_STEPS]),
        )
        .values(payment_outcome=outcome, next_attempt_at=now, updated_at=now)
    )
    return result.rowcount == 1


# ---------------------------------------------------------------------------------- saga log


@dataclass(frozen=True)
class SagaLogEntry:
    id: int
    order_id: str
    event: str
    from_state: str | None
    from_step: str | None
    to_state: str | None
    to_step: str | None
    detail: dict | None
    actor: str
    created_at: datetime


# Hot statements are built once: SQLAlchemy then computes their cache key once instead of on
# every call (a statement carrying literal `.values()` is keyed value by value).
_INSERT_LOG = insert(saga_log)


def log_entry(
    order_id: str,
    event: str,
    *,
    actor: str,
    now: datetime,
    transition: SagaEvent | None = None,
    detail: dict | None = None,
) -> dict[str, Any]:
    """One saga-log row (every key present, so a commit writes its rows in one statement)."""
    values: dict[str, Any] = {
        "order_id": order_id,
        "event": event,
        "actor": actor[:80],
        "created_at": now,
        "detail": detail,
        "from_state": None,
        "from_step": None,
        "to_state": None,
        "to_step": None,
    }
    if transition is not None:
        values.update(
            from_state=transition.from_state.value,
            from_step=transition.from_step.value,
            to_state=transition.to_state.value,
            to_step=transition.to_step.value,
            detail=transition.detail or detail,
        )
    return values


async def append_logs(conn: AsyncConnection, entries: list[dict[str, Any]]) -> None:
    if entries:
        await conn.execute(_INSERT_LOG, entries)


async def append_log(conn: AsyncConnection, order_id: str, event: str, **entry: Any) -> None:
    """One row; `entry` is `log_entry`'s keyword arguments (actor, now, transition, detail)."""
    await append_logs(conn, [log_entry(order_id, event, **entry)])


async def saga_timeline(conn: AsyncConnection, order_id: str) -> list[SagaLogEntry]:
    rows = await conn.execute(
        select(saga_log).where(saga_log.c.order_id == order_id).order_by(saga_log.c.id)
    )
    return [
        SagaLogEntry(
            id=int(r.id),
            order_id=r.order_id,
            event=r.event,
            from_state=r.from_state,
            from_step=r.from_step,
            to_state=r.to_state,
            to_step=r.to_step,
            detail=r.detail,
            actor=r.actor,
            created_at=r.created_at,
        )
        for r in rows
    ]
