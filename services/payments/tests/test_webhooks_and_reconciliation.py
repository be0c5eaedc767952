"""Stripe's webhooks as the mock sends them (signed, through the outbox relay to payments' own
endpoint) and the reconciliation job, on SQLite and MariaDB: duplicated, reordered, early and
late events leave exactly the right state; forged events change nothing; a crash between the
provider call and the local commit is resolved without a second charge."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from vanity_common.outbox import outbox_table, processed_table
from vanity_payments.domain import PaymentStatus
from vanity_payments.ports import Order, OrderStatus, PaymentOutcome
from vanity_payments.providers.mock import FaultKind, signed_webhook
from vanity_payments.providers.mock_store import MOCK_WEBHOOK_TOPIC
from vanity_payments.providers.webhooks import sign_payload
from vanity_payments.service import RefundCommand
from vanity_payments.tables import mock_intents, payment_events, provider_events

from .builders import charge_command

WEBHOOK = "/api/v1/payments/webhooks/stripe"


async def transitions(h, payment_id: str) -> list[tuple[str, str, str]]:
    async with h.db.connect() as conn:
        rows = await conn.execute(
            select(payment_events.c.transition, payment_events.c.to_status, payment_events.c.actor)
            .where(payment_events.c.payment_id == payment_id)
            .order_by(payment_events.c.id)
        )
        return [tuple(r) for r in rows]


async def pending_events(h) -> list[dict]:
    """The Stripe events the mock wrote and the relay has not delivered yet, oldest first."""
    async with h.db.connect() as conn:
        rows = await conn.execute(
            select(outbox_table.c.payload)
            .where(outbox_table.c.topic == MOCK_WEBHOOK_TOPIC, outbox_table.c.status == "pending")
            .order_by(outbox_table.c.created_at, outbox_table.c.id)
        )
        return [orjson.loads(r.payload) for r in rows]


async def post_events(h, events: list[dict]) -> list[str]:
    outcomes = []
    for webhook in h.provider.signed_webhooks(events):
        response = await h.http.post(WEBHOOK, content=webhook.payload, headers=webhook.headers)
        assert response.status_code == 200, response.text
        outcomes.append(response.json()["outcome"])
    return outcomes


# ---- 3-D Secure: the outcome arrives only as a webhook, and checkout hears about it ----------


async def test_3ds_completed_by_the_customer_authorizes_through_the_webhook(harness):
    payment = await harness.payments.charge(
        charge_command("k1", method="pm_card_authenticationRequired")
    )
    assert payment.status is PaymentStatus.REQUIRES_ACTION and payment.client_secret
    response = await harness.http.post(
        f"/api/v1/payments/dev/{payment.id}/authenticate",
        json={"client_secret": payment.client_secret, "success": True},
    )
    assert response.status_code == 202
    # Nothing changed yet: Stripe's answer is the webhook.
    assert (await harness.payments.get_payment(payment_id=payment.id)).status is (
        PaymentStatus.REQUIRES_ACTION
    )
    await harness.settle()
    after = await harness.payments.get_payment(payment_id=payment.id)
    assert after.status is PaymentStatus.AUTHORIZED
    assert [(t, a) for t, _, a in await transitions(harness, payment.id)] == [
        ("require_action", "api"),
        ("authorize", "webhook"),
    ]
    [report] = harness.checkout.reports
    assert report["order_id"] == "order-1" and report["payment_id"] == payment.id
    assert report["outcome"] is PaymentOutcome.SUCCEEDED
    assert report["provider_event_id"].startswith("evt_")


async def test_3ds_failed_fails_the_payment_and_tells_checkout(harness):
    payment = await harness.payments.charge(
        charge_command("k1", method="pm_card_authenticationRequired")
    )
    response = await harness.http.post(
        f"/api/v1/payments/dev/{payment.id}/authenticate",
        json={"client_secret": payment.client_secret, "success": False},
    )
    assert response.status_code == 202
    await harness.settle()
    after = await harness.payments.get_payment(payment_id=payment.id)
    assert after.status is PaymentStatus.FAILED
    assert after.failure_reason == "payment_intent_authentication_failure"
    [report] = harness.checkout.reports
    assert report["outcome"] is PaymentOutcome.FAILED
    assert report["failure_reason"] == "payment_intent_authentication_failure"


async def test_3ds_route_refuses_a_wrong_secret_and_bad_input(harness):
    payment = await harness.payments.charge(
        charge_command("k1", method="pm_card_authenticationRequired")
    )
    url = f"/api/v1/payments/dev/{payment.id}/authenticate"
    wrong = await harness.http.post(url, json={"client_secret": "pi_x_secret_y", "success": True})
    assert wrong.status_code == 403
    assert wrong.json()["errors"][0]["field"] == "client_secret"
    for body, field in (
        ({"success": True}, "client_secret"),
        ({"client_secret": payment.client_secret}, "success"),
        ({"client_secret": payment.client_secret, "success": "maybe"}, "success"),
        ({"client_secret": payment.client_secret, "success": True, "x": 1}, "x"),
    ):
        response = await harness.http.post(url, json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
    missing = await harness.http.post(
        "/api/v1/payments/dev/nope/authenticate", json={"client_secret": "s", "success": True}
    )
    assert missing.status_code == 404
    await harness.settle()
    assert (await harness.payments.get_payment(payment_id=payment.id)).status is (
        PaymentStatus.REQUIRES_ACTION
    )


# ---- duplicated, reordered, early and late deliveries ----------------------------------------


async def test_duplicated_and_reordered_webhooks_reach_exactly_the_final_state(harness):
    """Everything after 3-D Secure happens at the provider (the customer, then the dashboard):
    payments learns it only from events delivered three times each, in a shuffled order."""
    harness.provider.faults.duplicate_webhooks(3)
    harness.provider.faults.reorder_webhooks(seed=7)
    payment = await harness.payments.charge(
        charge_command("k1", method="pm_card_authenticationRequired")
    )
    intent = payment.provider_reference
    await harness.provider.complete_authentication(
        intent, client_secret=payment.client_secret, success=True
    )
    await harness.provider.capture_intent(intent, idempotency_key="dashboard:capture")
    await harness.provider.refund_intent(intent, idempotency_key="dashboard:r1", amount_minor=700)
    await harness.settle()
    after = await harness.payments.get_payment(payment_id=payment.id)
    assert after.status is PaymentStatus.PARTIALLY_REFUNDED
    assert (after.captured_minor, after.refunded_minor) == (5_000, 700)
    assert [t for t, _, _ in await transitions(harness, payment.id)] == [
        "require_action",
        "authorize",
        "capture",
        "refund",
    ]
    # Every copy answered 200; each event id was processed once.
    async with harness.db.connect() as conn:
        processed = (await conn.execute(select(processed_table.c.message_id))).all()
        events = (await conn.execute(select(provider_events.c.id))).all()
    assert len(processed) == len(events) == len({e.id for e in events})
    # Checkout heard "succeeded" (authorized and captured), deduplicated by event id there.
    assert {r["outcome"] for r in harness.checkout.reports} == {PaymentOutcome.SUCCEEDED}


async def test_late_webhooks_after_the_api_moved_on_change_nothing(harness):
    payment = await harness.payments.charge(charge_command("k1"))
    authorization_events = await pending_events(harness)
    harness.clock.advance(seconds=1)
    await harness.payments.capture(payment.id)
    events = await pending_events(harness)
    capture_events = [e for e in events if e not in authorization_events]
    # The endpoint's subscription (SUBSCRIBED_EVENT_TYPES): one event per step.
    assert [e["type"] for e in authorization_events] == ["payment_intent.amount_capturable_updated"]
    assert [e["type"] for e in capture_events] == ["payment_intent.succeeded"]
    # The authorization's events arrive after the capture's.
    late = capture_events + authorization_events
    outcomes = await post_events(harness, late)
    assert outcomes == ["processed", "processed"]
    acted_on = {e["id"] for e in late}
    # The same events again (Stripe retrying): recognised by id.
    again = await post_events(harness, [e for e in events if e["id"] in acted_on])
    assert set(again) == {"duplicate"}
    after = await harness.payments.get_payment(payment_id=payment.id)
    assert after.status is PaymentStatus.CAPTURED
    assert [(t, a) for t, _, a in await transitions(harness, payment.id)] == [
        ("authorize", "api"),
        ("capture", "api"),
    ]
    assert harness.checkout.reports == []


async def test_webhook_before_the_synchronous_answer(harness):
    """Stripe's event arrives while Charge is still waiting for its answer: the webhook finds
    the payment by the intent's metadata and authorizes it; Charge's answer then changes
    nothing."""
    provider = harness.provider
    create = provider.create_intent

    async def webhook_first(request, *, idempotency_key):
        snapshot = await create(request, idempotency_key=idempotency_key)
        await harness.settle()
        return snapshot

    provider.create_intent = webhook_first
    try:
        payment = await harness.payments.charge(charge_command("k1"))
    finally:
        del provider.create_intent
    assert payment.status is PaymentStatus.AUTHORIZED
    assert [(t, a) for t, _, a in await transitions(harness, payment.id)] == [
        ("authorize", "webhook")
    ]


# ---- forged webhooks ------------------------------------------------------------------------


async def _real_event(harness) -> tuple[str, dict]:
    payment = await harness.payments.charge(
        charge_command("k1", method="pm_card_authenticationRequired")
    )
    await harness.provider.complete_authentication(
        payment.provider_reference, client_secret=payment.client_secret, success=True
    )
    events = await pending_events(harness)
    authorized = "payment_intent.amount_capturable_updated"
    return payment.id, next(e for e in events if e["type"] == authorized)


@pytest.mark.parametrize("forgery", ["missing", "wrong-secret", "tampered", "stale", "garbage"])
async def test_forged_webhooks_change_nothing(harness, forgery):
    payment_id, event = await _real_event(harness)
    secret = harness.container.settings.stripe_webhook_secret.get_secret_value()
    now = int(harness.clock().timestamp())
    genuine = signed_webhook(event, secret, now)
    payload, headers = genuine.payload, dict(genuine.headers)
    if forgery == "missing":
        del headers["Stripe-Signature"]
    elif forgery == "wrong-secret":
        headers = signed_webhook(event, "whsec_attacker", now).headers
    elif forgery == "tampered":
        payload = payload.replace(b'"status":"requires_capture"', b'"status":"succeeded"')
        assert payload != genuine.payload
    elif forgery == "stale":
        headers = signed_webhook(event, secret, now - 3600).headers
    else:  # correctly signed, but not an event
        payload = b"not json"
        headers["Stripe-Signature"] = sign_payload(payload, secret, now)
    response = await harness.http.post(WEBHOOK, content=payload, headers=headers)
    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"][0]["field"] == "Stripe-Signature"
    assert await harness.count(processed_table) == 0
    assert await harness.count(provider_events) == 0
    after = await harness.payments.get_payment(payment_id=payment_id)
    assert after.status is PaymentStatus.REQUIRES_ACTION
    assert harness.checkout.reports == []


def metric(name: str, **labels) -> float:
    """A counter's (or a histogram part's) value in this process; 0 before its first count."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counted(event_type: str, result: str) -> float:
    return metric("vanity_payments_webhooks_total", type=event_type, result=result)


async def test_webhooks_are_counted_by_type_and_result_and_their_lag_observed(harness):
    authorized = "payment_intent.amount_capturable_updated"
    lag_before = metric("vanity_payments_webhook_lag_seconds_count")
    before = {r: counted(authorized, r) for r in ("processed", "duplicate")}
    forged_before = counted("unknown", "bad_signature")
    _, event = await _real_event(harness)
    assert await post_events(harness, [event, event]) == ["processed", "duplicate"]
    forged = await harness.http.post(WEBHOOK, content=b"{}", headers={"Stripe-Signature": "x"})
    assert forged.status_code == 400
    assert counted(authorized, "processed") == before["processed"] + 1
    assert counted(authorized, "duplicate") == before["duplicate"] + 1
    assert counted("unknown", "bad_signature") == forged_before + 1
    lag_after = metric("vanity_payments_webhook_lag_seconds_count")
    assert lag_after == lag_before + 1  # duplicates and forgeries are not processing lag


async def test_signed_event_of_another_kind_or_intent_is_acknowledged_and_ignored(harness):
    other = {
        "id": "evt_other",
        "object": "event",
        "type": "customer.created",
        "created": 1,
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    unknown_intent = {
        "id": "evt_unknown",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1,
        "data": {"object": {"id": "pi_not_ours", "object": "payment_intent"}},
    }
    assert await post_events(harness, [other, unknown_intent]) == ["ignored", "ignored"]


# ---- reconciliation ---------------------------------------------------------------------------


async def test_crash_between_provider_call_and_commit_is_resolved_without_a_second_charge(
    harness,
):
    """The provider authorizes, then the process loses the request (the use case is cancelled
    before it stores the answer): the payment is left pending with no intent id. The
    reconciliation job finds the intent by our payment id and authorizes; no second intent."""
    provider = harness.provider
    create = provider.create_intent
    applied = asyncio.Event()

    async def crash_after_the_provider_applied(request, *, idempotency_key):
        snapshot = await create(request, idempotency_key=idempotency_key)
        applied.set()
        await asyncio.Event().wait()  # never returns: the task dies here
        return snapshot

    provider.create_intent = crash_after_the_provider_applied
    task = asyncio.create_task(harness.payments.charge(charge_command("k1")))
    await applied.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    del provider.create_intent

    stuck = await harness.payments.get_payment(order_id="order-1")
    assert stuck.status is PaymentStatus.PENDING and stuck.provider_reference is None
    assert await harness.count(mock_intents) == 1

    # Within its limit the job leaves it alone (the charge may still be answering).
    assert (await harness.payments.reconcile_stuck()).changed == 0
    harness.clock.advance(minutes=10)
    report = await harness.payments.reconcile_stuck()
    assert (report.checked, report.changed, report.mismatches) == (1, 1, 0)
    resolved = await harness.payments.get_payment(payment_id=stuck.id)
    assert resolved.status is PaymentStatus.AUTHORIZED
    assert resolved.provider_reference is not None
    assert await harness.count(mock_intents) == 1
    assert [(t, a) for t, _, a in await transitions(harness, stuck.id)] == [
        ("authorize", "reconciliation")
    ]
    await harness.settle()
    assert [r["outcome"] for r in harness.checkout.reports] == [PaymentOutcome.SUCCEEDED]
    # Checkout retrying its Charge now gets the resolved payment; still one intent.
    again = await harness.payments.charge(charge_command("k1"))
    assert (again.id, again.status) == (stuck.id, PaymentStatus.AUTHORIZED)
    assert await harness.count(mock_intents) == 1
    # A second run finds nothing to change.
    harness.clock.advance(minutes=10)
    assert (await harness.payments.reconcile_stuck()).changed == 0


async def test_charge_the_provider_never_received_fails_after_its_limit(harness):
    harness.provider.faults.inject(FaultKind.TIMEOUT_NOT_APPLIED, "create")
    pending = await harness.payments.charge(charge_command("k1"))
    assert pending.status is PaymentStatus.PENDING
    harness.clock.advance(minutes=10)
    report = await harness.payments.reconcile_stuck()
    assert report.changed == 1
    failed = await harness.payments.get_payment(payment_id=pending.id)
    assert failed.status is PaymentStatus.FAILED
    assert failed.failure_reason == "not_sent_to_provider"
    assert await harness.count(mock_intents) == 0
    await harness.settle()
    assert [r["outcome"] for r in harness.checkout.reports] == [PaymentOutcome.FAILED]


async def test_missed_webhooks_are_made_up_by_reconciliation(harness):
    payment = await harness.payments.charge(
        charge_command("k1", method="pm_card_authenticationRequired")
    )
    await harness.provider.complete_authentication(
        payment.provider_reference, client_secret=payment.client_secret, success=True
    )
    # The events are never delivered (endpoint down for days): the job retrieves the truth.
    harness.clock.advance(minutes=10)
    assert (await harness.payments.reconcile_stuck()).changed == 1
    assert (await harness.payments.get_payment(payment_id=payment.id)).status is (
        PaymentStatus.AUTHORIZED
    )


async def test_authorizations_whose_order_is_gone_are_voided(harness):
    orphan = await harness.payments.charge(charge_command("k1", order_id="order-gone"))
    cancelled = await harness.payments.charge(charge_command("k2", order_id="order-cancelled"))
    alive = await harness.payments.charge(charge_command("k3", order_id="order-alive"))
    harness.checkout.orders["order-cancelled"] = Order(
        "order-cancelled", OrderStatus.CANCELLED, cancelled.id
    )
    harness.checkout.orders["order-alive"] = Order("order-alive", OrderStatus.PENDING, alive.id)
    harness.clock.advance(minutes=30)
    assert (await harness.payments.reconcile_stuck()).checked == 0  # within the hold's limit
    harness.clock.advance(hours=2)
    report = await harness.payments.reconcile_stuck()
    assert (report.checked, report.orphans_voided) == (3, 2)
    statuses = {
        p.order_id: (await harness.payments.get_payment(payment_id=p.id)).status
        for p in (orphan, cancelled, alive)
    }
    assert statuses == {
        "order-gone": PaymentStatus.VOIDED,
        "order-cancelled": PaymentStatus.VOIDED,
        "order-alive": PaymentStatus.AUTHORIZED,
    }
    intent = await harness.provider.retrieve_intent(orphan.provider_reference)
    assert intent.status == "canceled"
    await harness.settle()
    assert harness.checkout.reports == []  # nobody to tell: checkout already let them go


async def test_refund_retried_after_an_unknown_outcome_refunds_once(harness):
    payment = await harness.payments.charge(charge_command("k1", capture=True))
    harness.provider.faults.inject(FaultKind.TIMEOUT_APPLIED, "refund")
    command = RefundCommand(payment.id, "r1", 1_000, actor="api")
    with pytest.raises(Exception) as caught:
        await harness.payments.refund(command)
    assert getattr(caught.value, "reason", None) == "PROVIDER_UNAVAILABLE"
    after = await harness.payments.refund(command)
    assert after.refunded_minor == 1_000
    intent = await harness.provider.retrieve_intent(payment.provider_reference)
    assert intent.amount_refunded_minor == 1_000


async def test_a_truth_beyond_any_transition_is_reported_once_and_changes_nothing(harness):
    """The provider collected money on a payment we voided (e.g. captured in its dashboard by
    mistake after our cancel was lost): no transition reaches that; it is a metric and a log
    event for a person, counted once although the webhook re-asks the provider once."""
    from sqlalchemy import update

    payment = await harness.payments.charge(charge_command("k1"))
    await harness.payments.void(payment.id)
    intent = payment.provider_reference
    async with harness.db.connect(write=True) as conn:  # the provider's side diverges
        record = (
            await conn.execute(select(mock_intents.c.record).where(mock_intents.c.id == intent))
        ).scalar_one()
        diverged = {**orjson.loads(record), "status": "succeeded", "amount_received": 5_000}
        await conn.execute(
            update(mock_intents)
            .where(mock_intents.c.id == intent)
            .values(record=orjson.dumps(diverged).decode())
        )

    def mismatches() -> float:
        return metric("vanity_payments_reconciliation_mismatches_total", source="webhook")

    before = mismatches()
    event = {
        "id": "evt_diverged",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1,
        "data": {"object": {"id": intent, "object": "payment_intent"}},
    }
    assert await post_events(harness, [event]) == ["processed"]
    assert mismatches() == before + 1
    after = await harness.payments.get_payment(payment_id=payment.id)
    assert (after.status, after.captured_minor) == (PaymentStatus.VOIDED, 0)
    assert [t for t, _, _ in await transitions(harness, payment.id)] == ["authorize", "void"]


# ---- provider operations ---------------------------------------------------------------------


def operations(operation: str, result: str) -> float:
    return metric("vanity_payments_operations_total", operation=operation, result=result)


async def test_provider_calls_are_counted_by_operation_and_result(harness):
    counts = [("authorize", "ok"), ("authorize", "declined"), ("capture", "ok"), ("void", "ok")]
    before = {key: operations(*key) for key in counts}
    paid = await harness.payments.charge(charge_command("k1"))
    await harness.payments.capture(paid.id)
    declined = charge_command("k2", order_id="order-2", method="pm_card_visa_chargeDeclined")
    await harness.payments.charge(declined)
    held = await harness.payments.charge(charge_command("k3", order_id="order-3"))
    await harness.payments.void(held.id)
    after = {key: operations(*key) - before[key] for key in counts}
    assert after == {
        ("authorize", "ok"): 2,
        ("authorize", "declined"): 1,
        ("capture", "ok"): 1,
        ("void", "ok"): 1,
    }
