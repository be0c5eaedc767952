"""The mock provider behaves like Stripe where localstripe cannot show it: idempotency replays and
conflicts, declines with Stripe's codes, 3-D Secure, timeouts with the call applied or not, 5xx,
and duplicated or reordered signed webhooks."""

from __future__ import annotations

import asyncio
import json

import pytest
import stripe
from vanity_payments import domain
from vanity_payments.domain import Cause, PaymentStatus
from vanity_payments.providers import (
    CaptureMethod,
    IdempotencyKeyReused,
    IntentNotFound,
    IntentRequest,
    IntentStatus,
    InvalidProviderRequest,
    PaymentDeclined,
    UnknownOutcome,
)
from vanity_payments.providers.configured import provider_from_settings
from vanity_payments.providers.mock import FaultKind, InMemoryMockStore, MockProvider
from vanity_payments.providers.stripe import StripeProvider
from vanity_payments.providers.webhooks import (
    SIGNATURE_HEADER,
    SUBSCRIBED_EVENT_TYPES,
    WebhookSignatureInvalid,
    verify_webhook,
)
from vanity_payments.settings import PaymentsSettings

SECRET = "whsec_mock_tests"
AUTHORIZE = domain.ProviderStep.AUTHORIZE
CAPTURE = domain.ProviderStep.CAPTURE


class RecordingSleep:
    """Latency is injected through the provider's sleep: recorded, not waited for."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def store() -> InMemoryMockStore:
    return InMemoryMockStore()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def mock(store, sleep) -> MockProvider:
    return MockProvider(store, webhook_secret=SECRET, sleep=sleep)


def request(
    payment_method: str = "pm_card_visa",
    *,
    amount: int = 2_500,
    capture: CaptureMethod = CaptureMethod.MANUAL,
    payment_id: str = "pay-1",
) -> IntentRequest:
    return IntentRequest(
        payment_id=payment_id,
        order_id="order-1",
        amount_minor=amount,
        currency="EUR",
        payment_method=payment_method,
        capture_method=capture,
    )


def key(payment_id: str = "pay-1", step=AUTHORIZE, extra: str = "") -> str:
    return domain.provider_idempotency_key(step, payment_id, extra)


def event_types(store: InMemoryMockStore) -> list[str]:
    return [e["type"] for e in store.events]


# ------------------------------------------------------------------------- cards


async def test_visa_authorizes_with_manual_capture_and_carries_our_ids(mock, store):
    intent = await mock.create_intent(request(), idempotency_key=key())
    assert intent.status is IntentStatus.REQUIRES_CAPTURE
    assert intent.amount_capturable_minor == 2_500
    assert intent.amount_received_minor == 0
    assert intent.currency == "EUR"
    assert intent.metadata == {"order_id": "order-1", "payment_id": "pay-1"}
    assert domain.status_from_intent(intent) is PaymentStatus.AUTHORIZED
    assert event_types(store) == [
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
    ]


async def test_an_endpoint_gets_only_the_events_it_subscribed_to(store):
    """Stripe's `enabled_events`: the configured mock sends payments' subscription, one event a
    step, where an endpoint subscribed to everything would get four for the same order."""
    subscribed = MockProvider(store, webhook_secret=SECRET, enabled_events=SUBSCRIBED_EVENT_TYPES)
    intent = await subscribed.create_intent(request(), idempotency_key=key())
    await subscribed.capture_intent(intent.id, idempotency_key=key(step=CAPTURE))
    assert event_types(store) == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
    ]
    configured = provider_from_settings(PaymentsSettings(), mock_store=store)
    assert configured.enabled_events == SUBSCRIBED_EVENT_TYPES


async def test_visa_with_automatic_capture_is_paid_at_once(mock, store):
    intent = await mock.create_intent(
        request(capture=CaptureMethod.AUTOMATIC), idempotency_key=key()
    )
    assert intent.status is IntentStatus.SUCCEEDED
    assert intent.amount_received_minor == 2_500
    assert event_types(store)[-1] == "payment_intent.succeeded"


@pytest.mark.parametrize(
    ("payment_method", "code", "decline_code"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
async def test_declining_cards_fail_with_stripes_codes(
    mock, store, payment_method, code, decline_code
):
    with pytest.raises(PaymentDeclined) as declined:
        await mock.create_intent(request(payment_method), idempotency_key=key())
    assert declined.value.code == code
    assert declined.value.decline_code == decline_code
    assert declined.value.failure_reason == decline_code
    failed = declined.value.intent
    assert failed is not None and failed.status is IntentStatus.REQUIRES_PAYMENT_METHOD
    assert domain.status_from_intent(failed) is PaymentStatus.FAILED
    assert (await mock.retrieve_intent(failed.id)).last_error_code == code
    assert event_types(store)[-1] == "payment_intent.payment_failed"


@pytest.mark.parametrize("success", [True, False])
async def test_three_d_secure_waits_for_the_customer(mock, store, success):
    intent = await mock.create_intent(
        request("pm_card_authenticationRequired"), idempotency_key=key()
    )
    assert intent.status is IntentStatus.REQUIRES_ACTION
    assert intent.client_secret and intent.client_secret.startswith(intent.id)
    assert event_types(store)[-1] == "payment_intent.requires_action"

    with pytest.raises(InvalidProviderRequest):
        await mock.complete_authentication(intent.id, client_secret="forged", success=True)
    assert (await mock.retrieve_intent(intent.id)).status is IntentStatus.REQUIRES_ACTION

    done = await mock.complete_authentication(
        intent.id, client_secret=intent.client_secret, success=success
    )
    if success:
        assert done.status is IntentStatus.REQUIRES_CAPTURE
        assert event_types(store)[-1] == "payment_intent.amount_capturable_updated"
    else:
        assert done.status is IntentStatus.REQUIRES_PAYMENT_METHOD
        assert done.last_error_code == "payment_intent_authentication_failure"
        assert domain.status_from_intent(done) is PaymentStatus.FAILED
        assert event_types(store)[-1] == "payment_intent.payment_failed"


async def test_unknown_payment_method_and_bad_amounts_are_invalid_requests(mock, store):
    with pytest.raises(InvalidProviderRequest) as refused:
        await mock.create_intent(request("pm_card_nonexistent"), idempotency_key=key())
    assert (refused.value.code, refused.value.param) == ("resource_missing", "payment_method")
    assert not isinstance(refused.value, IntentNotFound)
    with pytest.raises(InvalidProviderRequest) as refused:
        await mock.create_intent(request(amount=0), idempotency_key=key("pay-2"))
    assert refused.value.param == "amount"
    assert store.intents == {}
    with pytest.raises(IntentNotFound):
        await mock.retrieve_intent("pi_missing")


# ------------------------------------------------------------------ idempotency keys


async def test_the_same_key_and_parameters_replay_the_first_answer(mock, store):
    first = await mock.create_intent(request(), idempotency_key=key())
    events = len(store.events)
    again = await mock.create_intent(request(), idempotency_key=key())
    assert again == first
    assert len(store.intents) == 1
    assert len(store.events) == events  # a replay sends no new webhooks


async def test_a_replayed_decline_is_the_same_decline(mock, store):
    with pytest.raises(PaymentDeclined) as first:
        await mock.create_intent(request("pm_card_visa_chargeDeclined"), idempotency_key=key())
    with pytest.raises(PaymentDeclined) as again:
        await mock.create_intent(request("pm_card_visa_chargeDeclined"), idempotency_key=key())
    assert again.value.intent == first.value.intent
    assert len(store.intents) == 1


async def test_concurrent_retries_with_one_key_create_one_intent(mock, store):
    answers = await asyncio.gather(
        *(mock.create_intent(request(), idempotency_key=key()) for _ in range(10))
    )
    assert {a.id for a in answers} == {answers[0].id}
    assert len(store.intents) == 1


async def test_the_same_key_with_other_parameters_is_refused(mock, store):
    await mock.create_intent(request(), idempotency_key=key())
    with pytest.raises(IdempotencyKeyReused):
        await mock.create_intent(request(amount=9_999), idempotency_key=key())
    intent_id = next(iter(store.intents))
    with pytest.raises(IdempotencyKeyReused):  # another endpoint under the same key
        await mock.capture_intent(intent_id, idempotency_key=key())
    assert len(store.intents) == 1
    assert (await mock.retrieve_intent(intent_id)).status is IntentStatus.REQUIRES_CAPTURE


async def test_a_request_refused_by_validation_is_not_remembered(mock):
    with pytest.raises(InvalidProviderRequest):
        await mock.create_intent(request("pm_card_typo"), idempotency_key=key())
    fixed = await mock.create_intent(request(), idempotency_key=key())
    assert fixed.status is IntentStatus.REQUIRES_CAPTURE


# --------------------------------------------------------------- capture, void, refund


async def test_capture_partial_then_refunds_down_to_zero(mock, store):
    intent = await mock.create_intent(request(amount=10_000), idempotency_key=key())
    captured = await mock.capture_intent(
        intent.id, idempotency_key=key(step=domain.ProviderStep.CAPTURE), amount_minor=7_000
    )
    assert captured.status is IntentStatus.SUCCEEDED
    assert (captured.amount_received_minor, captured.amount_refunded_minor) == (7_000, 0)

    refund_key = key(step=domain.ProviderStep.REFUND, extra="r1")
    first = await mock.refund_intent(captured.id, idempotency_key=refund_key, amount_minor=3_000)
    replayed = await mock.refund_intent(captured.id, idempotency_key=refund_key, amount_minor=3_000)
    assert replayed == first and len(store.refunds) == 1
    after = await mock.retrieve_intent(captured.id)
    assert after.amount_refunded_minor == 3_000
    assert domain.status_from_intent(after) is PaymentStatus.PARTIALLY_REFUNDED

    with pytest.raises(InvalidProviderRequest) as over:
        await mock.refund_intent(
            captured.id,
            idempotency_key=key(step=domain.ProviderStep.REFUND, extra="r2"),
            amount_minor=4_001,
        )
    assert over.value.code == "amount_too_large"
    rest = await mock.refund_intent(
        captured.id, idempotency_key=key(step=domain.ProviderStep.REFUND, extra="r3")
    )
    assert rest.amount_minor == 4_000
    final = await mock.retrieve_intent(captured.id)
    assert domain.status_from_intent(final) is PaymentStatus.REFUNDED
    assert event_types(store).count("charge.refunded") == 2


async def test_an_uncaptured_intent_is_voided_not_refunded(mock):
    intent = await mock.create_intent(request(), idempotency_key=key())
    with pytest.raises(InvalidProviderRequest) as refused:
        await mock.refund_intent(intent.id, idempotency_key=key(step=domain.ProviderStep.REFUND))
    assert refused.value.code == "payment_intent_unexpected_state"
    voided = await mock.cancel_intent(intent.id, idempotency_key=key(step=domain.ProviderStep.VOID))
    assert voided.status is IntentStatus.CANCELED
    assert domain.status_from_intent(voided, PaymentStatus.AUTHORIZED) is PaymentStatus.VOIDED
    with pytest.raises(InvalidProviderRequest):
        await mock.capture_intent(intent.id, idempotency_key=key(step=domain.ProviderStep.CAPTURE))


async def test_void_after_capture_is_refused(mock):
    intent = await mock.create_intent(request(), idempotency_key=key())
    await mock.capture_intent(intent.id, idempotency_key=key(step=domain.ProviderStep.CAPTURE))
    with pytest.raises(InvalidProviderRequest) as refused:
        await mock.cancel_intent(intent.id, idempotency_key=key(step=domain.ProviderStep.VOID))
    assert refused.value.code == "payment_intent_unexpected_state"
    assert (await mock.retrieve_intent(intent.id)).status is IntentStatus.SUCCEEDED


async def test_an_expired_authorization_reconciles_to_voided(mock):
    intent = await mock.create_intent(request(), idempotency_key=key())
    expired = await mock.expire_authorization(intent.id)
    assert expired.cancellation_reason == "automatic"
    pending = domain.new_payment(
        payment_id="pay-1", order_id="order-1", amount_minor=2_500, currency="EUR", provider="mock"
    )
    result = domain.reconcile(pending, expired, Cause("reconciliation"))
    assert result.payment.status is PaymentStatus.VOIDED
    assert [e.transition for e in result.events] == [
        domain.Transition.AUTHORIZE,
        domain.Transition.VOID,
    ]


# ---------------------------------------------------------------------------- faults


async def test_a_timeout_after_the_charge_is_resolved_by_the_same_key(mock, store):
    mock.faults.inject(FaultKind.TIMEOUT_APPLIED, "create")
    with pytest.raises(UnknownOutcome):
        await mock.create_intent(request(), idempotency_key=key())
    assert len(store.intents) == 1  # the provider did it; we did not hear

    found = await mock.find_intent("pay-1")
    retried = await mock.create_intent(request(), idempotency_key=key())
    assert found is not None and retried.id == found.id
    assert len(store.intents) == 1


@pytest.mark.parametrize("kind", [FaultKind.TIMEOUT_NOT_APPLIED, FaultKind.SERVER_ERROR])
async def test_a_failure_before_the_charge_leaves_nothing_and_a_retry_charges_once(
    mock, store, kind
):
    mock.faults.inject(kind, "create")
    with pytest.raises(UnknownOutcome):
        await mock.create_intent(request(), idempotency_key=key())
    assert store.intents == {} and store.events == []
    assert await mock.find_intent("pay-1") is None
    retried = await mock.create_intent(request(), idempotency_key=key())
    assert retried.status is IntentStatus.REQUIRES_CAPTURE
    assert len(store.intents) == 1


async def test_a_capture_timeout_then_retry_captures_once(mock, store):
    intent = await mock.create_intent(request(), idempotency_key=key())
    mock.faults.inject(FaultKind.TIMEOUT_APPLIED, "capture")
    capture_key = key(step=domain.ProviderStep.CAPTURE)
    with pytest.raises(UnknownOutcome):
        await mock.capture_intent(intent.id, idempotency_key=capture_key)
    retried = await mock.capture_intent(intent.id, idempotency_key=capture_key)
    assert retried.status is IntentStatus.SUCCEEDED
    assert event_types(store).count("payment_intent.succeeded") == 1


async def test_latency_is_injected_per_operation(mock, sleep):
    mock.faults.inject(FaultKind.LATENCY, "create", seconds=2.5, times=2)
    await mock.create_intent(request(), idempotency_key=key())
    await mock.create_intent(request(payment_id="pay-2"), idempotency_key=key("pay-2"))
    await mock.create_intent(request(payment_id="pay-3"), idempotency_key=key("pay-3"))
    assert sleep.slept == [2.5, 2.5]


@pytest.mark.parametrize("kind", list(FaultKind.__members__.values())[1:])
async def test_reads_time_out_too(mock, kind):
    intent = await mock.create_intent(request(), idempotency_key=key())
    mock.faults.inject(kind, "retrieve")
    with pytest.raises(UnknownOutcome):
        await mock.retrieve_intent(intent.id)
    assert (await mock.retrieve_intent(intent.id)) == intent


def test_unknown_operations_cannot_be_targeted(mock):
    with pytest.raises(ValueError, match="unknown operation"):
        mock.faults.inject(FaultKind.SERVER_ERROR, "charge")


# --------------------------------------------------------------------------- webhooks


async def test_webhooks_are_signed_as_stripe_signs_them(mock, store):
    intent = await mock.create_intent(request(), idempotency_key=key())
    deliveries = mock.signed_webhooks(store.take_events())
    assert [d.event_type for d in deliveries] == [
        "payment_intent.created",
        "payment_intent.amount_capturable_updated",
    ]
    for delivery in deliveries:
        header = delivery.headers[SIGNATURE_HEADER]
        event = stripe.Webhook.construct_event(delivery.payload, header, SECRET)
        assert event.id == delivery.event_id
        assert event.data.object.id == intent.id
        verified = verify_webhook(delivery.payload, header, SECRET)
        assert verified.payment_intent_id == intent.id
        with pytest.raises(WebhookSignatureInvalid):
            verify_webhook(delivery.payload, header, "whsec_other")
        tampered = delivery.payload.replace(intent.id.encode(), b"pi_forged")
        with pytest.raises(WebhookSignatureInvalid):
            verify_webhook(tampered, header, SECRET)
    with pytest.raises(WebhookSignatureInvalid):
        verify_webhook(deliveries[0].payload, None, SECRET)


async def test_charge_refunded_events_name_their_intent(mock, store):
    intent = await mock.create_intent(
        request(capture=CaptureMethod.AUTOMATIC), idempotency_key=key()
    )
    await mock.refund_intent(intent.id, idempotency_key=key(step=domain.ProviderStep.REFUND))
    refunded = [d for d in mock.signed_webhooks(store.take_events())][-1]
    event = verify_webhook(refunded.payload, refunded.headers[SIGNATURE_HEADER], SECRET)
    assert (event.type, event.object_type) == ("charge.refunded", "charge")
    assert event.payment_intent_id == intent.id


async def test_duplicated_and_reordered_webhooks_leave_exactly_the_right_state(mock, store):
    """A receiver that dedupes by event id and acts on the retrieved intent (what the webhook
    route will do) ends in the true state whatever the delivery order and duplicates."""
    intent = await mock.create_intent(request(amount=5_000), idempotency_key=key())
    await mock.capture_intent(intent.id, idempotency_key=key(step=domain.ProviderStep.CAPTURE))
    await mock.refund_intent(
        intent.id,
        idempotency_key=key(step=domain.ProviderStep.REFUND, extra="a"),
        amount_minor=1_000,
    )
    mock.faults.duplicate_webhooks(3)
    mock.faults.reorder_webhooks(seed=7)
    emitted = store.take_events()
    deliveries = mock.signed_webhooks(emitted)
    assert len(emitted) == 5 and len(deliveries) == 15
    first_seen = list(dict.fromkeys(d.event_id for d in deliveries))
    assert sorted(first_seen) == sorted(e["id"] for e in emitted)
    assert first_seen != [e["id"] for e in emitted]  # really out of order

    payment = domain.new_payment(
        payment_id="pay-1", order_id="order-1", amount_minor=5_000, currency="EUR", provider="mock"
    )
    processed: set[str] = set()
    ledger: list[domain.PaymentEvent] = []
    for delivery in deliveries:
        event = verify_webhook(delivery.payload, delivery.headers[SIGNATURE_HEADER], SECRET)
        if event.id in processed:
            continue
        processed.add(event.id)
        truth = await mock.retrieve_intent(event.payment_intent_id)
        result = domain.reconcile(payment, truth, Cause("webhook", event.type, event.id))
        assert result.mismatch is None
        payment = result.payment
        ledger.extend(result.events)
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert (payment.captured_minor, payment.refunded_minor) == (5_000, 1_000)
    # The first event processed already saw the final truth; the rest changed nothing.
    assert [e.transition for e in ledger] == [
        domain.Transition.AUTHORIZE,
        domain.Transition.CAPTURE,
        domain.Transition.REFUND,
    ]
    assert all(e.provider_event_id == ledger[0].provider_event_id for e in ledger)
    assert json.loads(deliveries[0].payload)["object"] == "event"


# ---------------------------------------------------------------------------- settings


async def test_the_settings_choose_the_provider(tmp_path):
    mock = provider_from_settings(PaymentsSettings(data_dir=tmp_path))
    assert isinstance(mock, MockProvider) and mock.name == "mock"
    real = provider_from_settings(
        PaymentsSettings(
            data_dir=tmp_path,
            payment_provider="stripe",
            stripe_secret_key="sk_test_x",
            stripe_api_base="http://127.0.0.1:9",
        )
    )
    assert isinstance(real, StripeProvider) and real.name == "stripe"
    await real.aclose()


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"payment_provider": "mock"}, "PAYMENT_PROVIDER is mock"),
        ({"stripe_secret_key": "sk_test_abc"}, "test-mode key"),
        ({"stripe_secret_key": "rk_test_abc"}, "test-mode key"),
        ({"stripe_api_base": "http://localstripe:8420"}, "STRIPE_API_BASE"),
    ],
)
def test_production_refuses_the_mock_test_keys_and_another_api(overrides, problem):
    live = {
        "env": "production",
        "database_url": "mysql+asyncmy://db/payments",
        "jwks_url": "http://identity/jwks",
        "payment_provider": "stripe",
        "stripe_secret_key": "sk_live_abc",
        "stripe_webhook_secret": "whsec_live",
    }
    assert PaymentsSettings(**live).production_problems() == []
    problems = PaymentsSettings(**(live | overrides)).production_problems()
    assert any(problem in p for p in problems), problems
