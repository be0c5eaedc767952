"""Payments' tables on SQLite and MariaDB: the ledger, compare-and-set transitions, the schema's
own guards, and the mock provider's state in the database (restart-proof idempotency, events in
the outbox in the same transaction, one intent per key under concurrent retries on MariaDB)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import stripe
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from vanity_common.db import Database
from vanity_common.migrations import migrate
from vanity_common.outbox import outbox_table
from vanity_payments import domain, repository
from vanity_payments.domain import Cause, PaymentStatus, ProviderStep
from vanity_payments.providers import (
    IntentRequest,
    IntentStatus,
    InvalidProviderRequest,
    PaymentDeclined,
    UnknownOutcome,
)
from vanity_payments.providers.mock import FaultKind, MockProvider, signed_webhook
from vanity_payments.providers.mock_store import MOCK_WEBHOOK_TOPIC, SqlMockStore
from vanity_payments.tables import mock_intents

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CAUSE = Cause("test", "persistence")
SECRET = "whsec_persistence"


async def open_db(url: str, pool_size: int = 5) -> Database:
    await migrate("vanity_payments", url)
    return Database(url, pool_size=pool_size)


@pytest.fixture
async def db(database_url) -> AsyncIterator[Database]:
    database = await open_db(database_url)
    yield database
    await database.dispose()


async def insert(db: Database, payment_id: str = "pay-1", key: str = "order:1:charge"):
    payment = domain.new_payment(
        payment_id=payment_id,
        order_id="order-1",
        amount_minor=5_000,
        currency="EUR",
        provider="mock",
    )
    async with db.connect(write=True) as conn:
        await repository.insert_payment(
            conn,
            payment,
            user_id="alice",
            idempotency_key=key,
            payment_method="pm_card_visa",
            capture_method="manual",
            now=NOW,
        )
    return payment


async def apply(db: Database, before: domain.Payment, step: domain.Step) -> bool:
    async with db.connect(write=True) as conn:
        return await repository.save_transitions(conn, before, step.payment, [step.event], NOW)


async def test_transitions_and_their_ledger_are_stored_together(db):
    pending = await insert(db)
    authorized = domain.authorize(pending, CAUSE)
    assert await apply(db, pending, authorized)
    captured = domain.capture(authorized.payment, CAUSE, 4_000)
    assert await apply(db, authorized.payment, captured)
    refunded = domain.refund(captured.payment, Cause("admin:7", "damaged", None), 1_500)
    assert await apply(db, captured.payment, refunded)

    async with db.connect() as conn:
        stored = await repository.get_payment(conn, "pay-1")
        ledger = await repository.list_events(conn, "pay-1")
        charge = await repository.get_charge_by_key(conn, "order:1:charge")
    assert stored == refunded.payment
    assert [e.transition for e in ledger] == ["authorize", "capture", "refund"]
    assert ledger[-1].actor == "admin:7" and ledger[-1].reason == "damaged"
    assert domain.replay(pending, ledger) == stored
    assert charge is not None and charge.payment_method == "pm_card_visa"


async def test_a_stale_transition_loses_and_writes_nothing(db):
    pending = await insert(db)
    assert await apply(db, pending, domain.authorize(pending, CAUSE))
    # A second writer decided from the same pending read: refused, no ledger row.
    assert not await apply(db, pending, domain.fail(pending, CAUSE, "card_declined"))
    async with db.connect() as conn:
        assert (await repository.get_payment(conn, "pay-1")).status is PaymentStatus.AUTHORIZED
        assert len(await repository.list_events(conn, "pay-1")) == 1


async def test_the_schema_refuses_impossible_money_and_ledger_edits(db):
    pending = await insert(db)
    await apply(db, pending, domain.authorize(pending, CAUSE))
    # CHECK violations: IntegrityError on SQLite, OperationalError 4025 on MariaDB.
    with pytest.raises(DBAPIError, match=r"refund_within_captured"):
        async with db.connect(write=True) as conn:
            await conn.execute(text("UPDATE payments SET refunded_minor = 1 WHERE id = 'pay-1'"))
    with pytest.raises(DBAPIError, match=r"captured_bounds"):
        async with db.connect(write=True) as conn:
            await conn.execute(text("UPDATE payments SET captured_minor = 5001 WHERE id = 'pay-1'"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.connect(write=True) as conn:
            await conn.execute(text("UPDATE payment_events SET amount_minor = 0"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.connect(write=True) as conn:
            await conn.execute(text("DELETE FROM payment_events"))
    with pytest.raises(IntegrityError):  # one payment per idempotency key
        await insert(db, payment_id="pay-2")


async def test_stuck_payments_are_listed_oldest_first(db):
    await insert(db, "pay-1", "k1")
    await insert(db, "pay-2", "k2")
    async with db.connect() as conn:
        stuck = await repository.stuck_payments(
            conn, [PaymentStatus.PENDING], NOW + timedelta(minutes=5), limit=10
        )
        fresh = await repository.stuck_payments(conn, [PaymentStatus.PENDING], NOW, limit=10)
    assert [p.id for p in stuck] == ["pay-1", "pay-2"]
    assert fresh == []


# --------------------------------------------------------------- the mock's state in the DB


def charge_request(payment_id: str = "pay-1", method: str = "pm_card_visa") -> IntentRequest:
    return IntentRequest(
        payment_id=payment_id,
        order_id="order-1",
        amount_minor=5_000,
        currency="EUR",
        payment_method=method,
    )


def authorize_key(payment_id: str = "pay-1") -> str:
    return domain.provider_idempotency_key(ProviderStep.AUTHORIZE, payment_id)


async def outbox_events(db: Database) -> list[dict]:
    async with db.connect() as conn:
        rows = await conn.execute(
            select(outbox_table.c.payload)
            .where(outbox_table.c.topic == MOCK_WEBHOOK_TOPIC)
            .order_by(outbox_table.c.created_at)
        )
        return [orjson.loads(r.payload) for r in rows]


async def test_the_mock_remembers_answers_across_a_restart(db):
    first = MockProvider(SqlMockStore(db), webhook_secret=SECRET)
    intent = await first.create_intent(charge_request(), idempotency_key=authorize_key())
    with pytest.raises(PaymentDeclined) as declined:
        await first.create_intent(
            charge_request("pay-2", "pm_card_chargeDeclinedInsufficientFunds"),
            idempotency_key=authorize_key("pay-2"),
        )

    restarted = MockProvider(SqlMockStore(db), webhook_secret=SECRET)
    assert (
        await restarted.create_intent(charge_request(), idempotency_key=authorize_key()) == intent
    )
    with pytest.raises(PaymentDeclined) as again:
        await restarted.create_intent(
            charge_request("pay-2", "pm_card_chargeDeclinedInsufficientFunds"),
            idempotency_key=authorize_key("pay-2"),
        )
    assert again.value.intent == declined.value.intent
    assert (await restarted.find_intent("pay-1")) == intent
    async with db.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(mock_intents))).scalar() == 2


async def test_mock_events_are_outbox_rows_signed_on_delivery(db):
    mock = MockProvider(SqlMockStore(db), webhook_secret=SECRET)
    intent = await mock.create_intent(charge_request(), idempotency_key=authorize_key())
    await mock.capture_intent(
        intent.id, idempotency_key=domain.provider_idempotency_key(ProviderStep.CAPTURE, "pay-1")
    )
    events = {e["type"]: e for e in await outbox_events(db)}  # delivery order is not kept
    assert sorted(events) == [
        "charge.captured",
        "payment_intent.amount_capturable_updated",
        "payment_intent.created",
        "payment_intent.succeeded",
    ]
    delivery = signed_webhook(events["payment_intent.succeeded"], SECRET, int(NOW.timestamp()))
    verified = stripe.Webhook.construct_event(
        delivery.payload, delivery.headers["Stripe-Signature"], SECRET, tolerance=10**10
    )
    assert verified.data.object.id == intent.id


async def test_a_failed_call_leaves_no_intent_answer_or_event(db):
    mock = MockProvider(SqlMockStore(db), webhook_secret=SECRET)
    mock.faults.inject(FaultKind.TIMEOUT_NOT_APPLIED, "create")
    with pytest.raises(UnknownOutcome):
        await mock.create_intent(charge_request(), idempotency_key=authorize_key())
    assert await outbox_events(db) == []
    mock.faults.inject(FaultKind.TIMEOUT_APPLIED, "create")
    with pytest.raises(UnknownOutcome):
        await mock.create_intent(charge_request(), idempotency_key=authorize_key())
    applied = await mock.find_intent("pay-1")
    assert applied is not None and applied.status is IntentStatus.REQUIRES_CAPTURE
    retried = await mock.create_intent(charge_request(), idempotency_key=authorize_key())
    assert retried.id == applied.id and len(await outbox_events(db)) == 2


@pytest.mark.mariadb
async def test_concurrent_retries_with_one_key_create_one_intent_on_mariadb(mariadb_url):
    db = await open_db(mariadb_url, pool_size=12)
    try:
        mock = MockProvider(SqlMockStore(db), webhook_secret=SECRET)
        answers = await asyncio.gather(
            *(
                mock.create_intent(charge_request(), idempotency_key=authorize_key())
                for _ in range(10)
            )
        )
        assert len({a.id for a in answers}) == 1
        async with db.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(mock_intents))).scalar()
        assert count == 1
        assert len(await outbox_events(db)) == 2
    finally:
        await db.dispose()


@pytest.mark.mariadb
async def test_a_capture_racing_a_void_on_mariadb_has_one_winner(mariadb_url):
    db = await open_db(mariadb_url, pool_size=12)
    try:
        mock = MockProvider(SqlMockStore(db), webhook_secret=SECRET)
        intent = await mock.create_intent(charge_request(), idempotency_key=authorize_key())
        results = await asyncio.gather(
            mock.capture_intent(
                intent.id,
                idempotency_key=domain.provider_idempotency_key(ProviderStep.CAPTURE, "pay-1"),
            ),
            mock.cancel_intent(
                intent.id,
                idempotency_key=domain.provider_idempotency_key(ProviderStep.VOID, "pay-1"),
            ),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, Exception)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1 and len(losers) == 1
        assert isinstance(losers[0], InvalidProviderRequest)
        final = await mock.retrieve_intent(intent.id)
        assert final.status is winners[0].status
        assert final.status in (IntentStatus.SUCCEEDED, IntentStatus.CANCELED)
    finally:
        await db.dispose()
