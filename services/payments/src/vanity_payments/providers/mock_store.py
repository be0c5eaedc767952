"""The mock provider's state in payments' own database (`mock_*` tables), one unit of work per
call: the intent, the remembered answer and the Stripe events (outbox rows on
`MOCK_WEBHOOK_TOPIC`, delivered signed to payments' webhook endpoint by the relay) commit together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from vanity_common.db import Database, is_retryable_db_error
from vanity_common.uow import UnitOfWork

from vanity_payments.providers.mock import (
    MockIntent,
    MockRefund,
    RememberedAnswer,
    StoreConflict,
    intent_from_record,
    intent_record,
)
from vanity_payments.tables import mock_idempotency, mock_intents, mock_refunds

# Outbox topic of the Stripe events the mock sends; the payload is the event itself.
MOCK_WEBHOOK_TOPIC = "payments.mock_stripe_event"

# Every call of the mock runs these: built once with bind parameters, keyed once by SQLAlchemy.
_INTENT_FOR_UPDATE = (
    select(mock_intents.c.record)
    .where(mock_intents.c.id == bindparam("key_intent_id"))
    .with_for_update()
)
_UPDATE_INTENT = update(mock_intents).where(mock_intents.c.id == bindparam("key_intent_id"))
_INSERT_INTENT = insert(mock_intents)
_ANSWER = select(mock_idempotency).where(
    mock_idempotency.c.idempotency_key == bindparam("key_idempotency_key")
)
_INSERT_ANSWER = insert(mock_idempotency)


class SqlMockStore:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        # The service's clock, so the events' outbox rows are due by the relay's clock too.
        self.clock = clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlMockTx]:
        try:
            clock = {"clock": self.clock} if self.clock is not None else {}
            async with self.db.unit_of_work(**clock) as uow:
                yield SqlMockTx(uow)
        except Exception as exc:
            if is_retryable_db_error(exc):
                raise StoreConflict(str(exc)) from exc
            raise


class SqlMockTx:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.conn = uow.conn

    async def get_intent(self, intent_id: str) -> MockIntent | None:
        # Locked: a capture racing a cancel on MariaDB must not both read `requires_capture`.
        found = await self.conn.execute(_INTENT_FOR_UPDATE, {"key_intent_id": intent_id})
        record = found.scalar_one_or_none()
        return intent_from_record(orjson.loads(record)) if record else None

    async def find_intent(self, payment_id: str) -> MockIntent | None:
        query = (
            select(mock_intents.c.record)
            .where(mock_intents.c.payment_id == payment_id)
            .order_by(mock_intents.c.created_at)
            .limit(1)
        )
        record = (await self.conn.execute(query)).scalar_one_or_none()
        return intent_from_record(orjson.loads(record)) if record else None

    async def put_intent(self, intent: MockIntent) -> None:
        record = orjson.dumps(intent_record(intent)).decode()
        changed = await self.conn.execute(
            _UPDATE_INTENT,
            {"key_intent_id": intent.id, "record": record, "updated_at": self.uow.now},
        )
        if changed.rowcount == 0:
            await self.conn.execute(
                _INSERT_INTENT,
                {
                    "id": intent.id,
                    "payment_id": intent.metadata.get("payment_id"),
                    "record": record,
                    "created_at": self.uow.now,
                    "updated_at": self.uow.now,
                },
            )

    async def put_refund(self, refund: MockRefund) -> None:
        await self.conn.execute(
            insert(mock_refunds).values(
                id=refund.id,
                payment_intent_id=refund.payment_intent_id,
                amount=refund.amount,
                currency=refund.currency,
                status=refund.status,
                created_at=self.uow.now,
            )
        )

    async def get_answer(self, idempotency_key: str) -> RememberedAnswer | None:
        row = (await self.conn.execute(_ANSWER, {"key_idempotency_key": idempotency_key})).first()
        if row is None:
            return None
        return RememberedAnswer(row.fingerprint, int(row.http_status), orjson.loads(row.body))

    async def put_answer(self, idempotency_key: str, answer: RememberedAnswer) -> None:
        try:
            await self.conn.execute(
                _INSERT_ANSWER,
                {
                    "idempotency_key": idempotency_key,
                    "fingerprint": answer.fingerprint,
                    "http_status": answer.http_status,
                    "body": orjson.dumps(answer.body).decode(),
                    "created_at": self.uow.now,
                },
            )
        except IntegrityError as exc:  # a concurrent request with the key committed first
            raise StoreConflict(idempotency_key) from exc

    async def emit(self, event: dict[str, Any]) -> None:
        await self.uow.publish(MOCK_WEBHOOK_TOPIC, event, message_id=event["id"])
