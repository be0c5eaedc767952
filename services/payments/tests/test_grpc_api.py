"""The gRPC API (proto/vanity/payments/v1) against the mock provider in payments' own database,
on SQLite and MariaDB: every call idempotent, refusals mapped to the chassis' error model."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sqlalchemy import select
from vanity.common.v1 import common_pb2
from vanity.payments.v1 import payments_pb2 as pb
from vanity_common.errors import grpc_reason
from vanity_payments.providers.mock import FaultKind
from vanity_payments.tables import mock_intents, mock_refunds, payment_events, payments

S = pb.PaymentStatus


async def rpc_error(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def ledger(h, payment_id: str) -> list[tuple[str, str, int]]:
    async with h.db.connect() as conn:
        rows = await conn.execute(
            select(
                payment_events.c.transition,
                payment_events.c.to_status,
                payment_events.c.amount_minor,
            )
            .where(payment_events.c.payment_id == payment_id)
            .order_by(payment_events.c.id)
        )
        return [tuple(r) for r in rows]


async def test_authorize_then_capture(harness):
    authorized = await harness.charge("order:1:charge")
    assert authorized.status == S.PAYMENT_STATUS_AUTHORIZED
    assert authorized.provider == "mock" and authorized.provider_reference.startswith("pi_")
    captured = await harness.grpc.Capture(pb.CaptureRequest(payment_id=authorized.payment_id))
    assert captured.status == S.PAYMENT_STATUS_CAPTURED
    # Capture is idempotent: a retry answers the same payment and moves nothing.
    again = await harness.grpc.Capture(pb.CaptureRequest(payment_id=authorized.payment_id))
    assert again == captured
    # The webhooks the mock sent (created, authorized, succeeded, captured) change nothing.
    await harness.settle()
    assert await ledger(harness, authorized.payment_id) == [
        ("authorize", "authorized", 5_000),
        ("capture", "captured", 5_000),
    ]
    got = await harness.grpc.GetPayment(pb.GetPaymentRequest(order_id="order-1"))
    assert got.status == S.PAYMENT_STATUS_CAPTURED
    # Checkout got its answers synchronously: nothing to report.
    assert harness.checkout.reports == []


async def test_charge_with_capture_collects_at_once(harness):
    paid = await harness.charge("order:2:charge", order_id="order-2", capture=True)
    assert paid.status == S.PAYMENT_STATUS_CAPTURED
    assert await ledger(harness, paid.payment_id) == [("charge", "captured", 5_000)]


async def test_retried_charge_returns_the_same_payment_and_one_intent(harness):
    first = await harness.charge("order:1:charge")
    second = await harness.charge("order:1:charge")
    assert second == first
    assert await harness.count(mock_intents) == 1
    assert await harness.count(payments) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 5_001},
        {"order_id": "order-9"},
        {"currency": "USD"},
        {"capture": True},
        {"method": "pm_card_mastercard"},
    ],
    ids=["amount", "order", "currency", "capture", "payment-method"],
)
async def test_same_key_for_another_charge_is_refused(harness, change):
    await harness.charge("order:1:charge")
    error = await rpc_error(harness.charge("order:1:charge", **change))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert grpc_reason(error) == "IDEMPOTENCY_KEY_REUSED"
    assert await harness.count(mock_intents) == 1


async def test_declined_card_is_a_failed_payment_not_an_error(harness):
    declined = await harness.charge(
        "order:3:charge", method="pm_card_chargeDeclinedInsufficientFunds"
    )
    assert declined.status == S.PAYMENT_STATUS_FAILED
    assert declined.failure_reason == "insufficient_funds"
    # A retry answers the same failure; no second attempt at the provider.
    assert (
        await harness.charge("order:3:charge", method="pm_card_chargeDeclinedInsufficientFunds")
        == declined
    )
    assert await harness.count(mock_intents) == 1


async def test_void_releases_an_authorization_and_is_idempotent(harness):
    payment = await harness.charge("order:1:charge")
    voided = await harness.grpc.Void(pb.VoidRequest(payment_id=payment.payment_id, reason="x"))
    assert voided.status == S.PAYMENT_STATUS_VOIDED
    again = await harness.grpc.Void(pb.VoidRequest(payment_id=payment.payment_id))
    assert again.status == S.PAYMENT_STATUS_VOIDED
    error = await rpc_error(harness.grpc.Capture(pb.CaptureRequest(payment_id=payment.payment_id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert grpc_reason(error) == "ILLEGAL_TRANSITION"


async def test_void_after_capture_is_refused_refund_instead(harness):
    payment = await harness.charge("order:1:charge", capture=True)
    error = await rpc_error(harness.grpc.Void(pb.VoidRequest(payment_id=payment.payment_id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert grpc_reason(error) == "PAYMENT_CAPTURED"
    got = await harness.grpc.GetPayment(pb.GetPaymentRequest(payment_id=payment.payment_id))
    assert got.status == S.PAYMENT_STATUS_CAPTURED


def refund_request(payment_id: str, key: str, amount: int | None = None, currency="EUR"):
    request = pb.RefundRequest(payment_id=payment_id, idempotency_key=key, reason="test")
    if amount is not None:
        request.amount.CopyFrom(common_pb2.Money(amount_minor=amount, currency=currency))
    return request


async def test_refunds_partial_then_rest_and_retries_refund_once(harness):
    payment = await harness.charge("order:1:charge", capture=True)
    partial = await harness.grpc.Refund(refund_request(payment.payment_id, "r1", 1_500))
    assert partial.status == S.PAYMENT_STATUS_PARTIALLY_REFUNDED
    assert partial.refunded.amount_minor == 1_500
    # The same refund retried: no second refund at the provider, same answer.
    assert await harness.grpc.Refund(refund_request(payment.payment_id, "r1", 1_500)) == partial
    assert await harness.count(mock_refunds) == 1
    # The same key with another amount is another request: refused.
    error = await rpc_error(harness.grpc.Refund(refund_request(payment.payment_id, "r1", 100)))
    assert grpc_reason(error) == "IDEMPOTENCY_KEY_REUSED"
    # More than the remainder: refused, nothing sent to the provider.
    error = await rpc_error(harness.grpc.Refund(refund_request(payment.payment_id, "r2", 3_501)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert grpc_reason(error) == "REFUND_EXCEEDS_CAPTURED"
    assert await harness.count(mock_refunds) == 1
    rest = await harness.grpc.Refund(refund_request(payment.payment_id, "r3"))
    assert rest.status == S.PAYMENT_STATUS_REFUNDED
    assert rest.refunded.amount_minor == 5_000
    error = await rpc_error(harness.grpc.Refund(refund_request(payment.payment_id, "r4", 1)))
    assert grpc_reason(error) == "REFUND_EXCEEDS_CAPTURED"
    await harness.settle()  # charge.refunded webhooks: already known, nothing changes
    assert [t for t, _, _ in await ledger(harness, payment.payment_id)] == [
        "charge",
        "refund",
        "refund",
    ]


async def test_refund_before_capture_is_refused_void_instead(harness):
    payment = await harness.charge("order:1:charge")
    error = await rpc_error(harness.grpc.Refund(refund_request(payment.payment_id, "r1")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert grpc_reason(error) == "PAYMENT_NOT_CAPTURED"


async def test_timeout_after_the_provider_applied_leaves_pending_then_retry_resolves(harness):
    harness.provider.faults.inject(FaultKind.TIMEOUT_APPLIED, "create")
    pending = await harness.charge("order:1:charge")
    assert pending.status == S.PAYMENT_STATUS_PENDING
    assert await harness.count(mock_intents) == 1  # the provider did create it
    resolved = await harness.charge("order:1:charge")
    assert resolved.payment_id == pending.payment_id
    assert resolved.status == S.PAYMENT_STATUS_AUTHORIZED
    assert await harness.count(mock_intents) == 1  # the retry replayed, created nothing


async def test_timeout_before_the_provider_acted_then_retry_creates_the_one_intent(harness):
    harness.provider.faults.inject(FaultKind.SERVER_ERROR, "create")
    pending = await harness.charge("order:1:charge")
    assert pending.status == S.PAYMENT_STATUS_PENDING
    assert await harness.count(mock_intents) == 0
    resolved = await harness.charge("order:1:charge")
    assert resolved.status == S.PAYMENT_STATUS_AUTHORIZED
    assert await harness.count(mock_intents) == 1


async def test_capture_with_unknown_outcome_is_unavailable_and_retry_completes(harness):
    payment = await harness.charge("order:1:charge")
    harness.provider.faults.inject(FaultKind.TIMEOUT_APPLIED, "capture")
    error = await rpc_error(harness.grpc.Capture(pb.CaptureRequest(payment_id=payment.payment_id)))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert grpc_reason(error) == "PROVIDER_UNAVAILABLE"
    captured = await harness.grpc.Capture(pb.CaptureRequest(payment_id=payment.payment_id))
    assert captured.status == S.PAYMENT_STATUS_CAPTURED


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": ""}, "idempotency_key"),
        ({"key": "k" * 129}, "idempotency_key"),
        ({"order_id": ""}, "order_id"),
        ({"order_id": "o" * 37}, "order_id"),
        ({"amount": 0}, "amount.amount_minor"),
        ({"amount": -5}, "amount.amount_minor"),
        ({"amount": 100_000_000}, "amount.amount_minor"),
        ({"currency": "eur"}, "amount.currency"),
        ({"currency": ""}, "amount.currency"),
        ({"method": ""}, "payment_method"),
        ({"method": "pm card; drop"}, "payment_method"),
    ],
)
async def test_bad_charge_is_invalid_argument_and_stores_nothing(harness, change, field):
    change = dict(change)  # shared by the SQLite and MariaDB runs
    key = change.pop("key", "order:1:charge")
    error = await rpc_error(harness.charge(key, **change))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in error.details()
    assert await harness.count(payments) == 0


async def test_bad_lookups_and_refunds(harness):
    error = await rpc_error(harness.grpc.GetPayment(pb.GetPaymentRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = await rpc_error(harness.grpc.GetPayment(pb.GetPaymentRequest(payment_id="nope")))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert grpc_reason(error) == "PAYMENT_NOT_FOUND"
    for call in (
        harness.grpc.Capture(pb.CaptureRequest(payment_id="nope")),
        harness.grpc.Void(pb.VoidRequest(payment_id="nope")),
        harness.grpc.Refund(refund_request("nope", "r1")),
    ):
        assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
    payment = await harness.charge("order:1:charge", capture=True)
    for request, field in (
        (refund_request(payment.payment_id, ""), "idempotency_key"),
        (refund_request(payment.payment_id, "r1", 0), "amount_minor"),
        (refund_request(payment.payment_id, "r1", 100, "USD"), "amount.currency"),
    ):
        error = await rpc_error(harness.grpc.Refund(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in error.details()
    assert await harness.count(mock_refunds) == 0


@pytest.mark.mariadb
async def test_concurrent_charge_retries_make_one_intent(harness_factory, mariadb_url):
    """Checkout retrying a Charge while the first is in flight (MariaDB, real row locks)."""
    harness = await harness_factory(mariadb_url)
    answers = await asyncio.gather(*(harness.charge("order:7:charge") for _ in range(12)))
    assert {a.payment_id for a in answers} == {answers[0].payment_id}
    assert {a.provider_reference for a in answers} == {answers[0].provider_reference}
    assert all(a.status == S.PAYMENT_STATUS_AUTHORIZED for a in answers)
    assert await harness.count(mock_intents) == 1
    assert await harness.count(payments) == 1
    assert await ledger(harness, answers[0].payment_id) == [("authorize", "authorized", 5_000)]
