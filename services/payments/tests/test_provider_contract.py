"""One contract, two providers: the Stripe adapter against localstripe (real HTTP through the
official SDK) and the mock provider answer the same flows with the same snapshots, so what the
service does with the mock is what it will do with Stripe.

Covered here: authorize (manual capture) → capture; authorize → void; automatic capture; partial
and full refunds; a decline; 3-D Secure completed and failed; missing intents vs bad requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import stripe
from vanity_payments import domain
from vanity_payments.domain import PaymentStatus, ProviderStep
from vanity_payments.providers import (
    CaptureMethod,
    IntentNotFound,
    IntentRequest,
    IntentSnapshot,
    IntentStatus,
    InvalidProviderRequest,
    PaymentDeclined,
    PaymentProvider,
)
from vanity_payments.providers.mock import MockProvider
from vanity_payments.providers.stripe import StripeProvider

from .builders import intent_request

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

API_KEY = "sk_test_contract"


@dataclass
class Harness:
    provider: PaymentProvider
    declining_method: str  # a card the provider declines at confirmation
    three_d_secure_method: Callable[[], Awaitable[str]]
    authenticate: Callable[[IntentSnapshot, bool], Awaitable[None]]


async def _localstripe_harness(base: str) -> AsyncIterator[Harness]:
    provider = StripeProvider(API_KEY, api_base=base, max_network_retries=1)
    http = stripe.HTTPXClient()
    sdk = stripe.StripeClient(API_KEY, base_addresses={"api": base}, http_client=http)

    async def three_d_secure_method() -> str:
        # localstripe does not know pm_card_authenticationRequired: create Stripe's 3DS card.
        method = await sdk.v1.payment_methods.create_async(
            params={
                "type": "card",
                "card": {
                    "number": "4000002500003155",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "cvc": "123",
                },
            }
        )
        return method.id

    async def authenticate(intent: IntentSnapshot, success: bool) -> None:
        """What Stripe.js reports after the challenge (localstripe's `_authenticate`)."""
        async with httpx.AsyncClient(base_url=base) as client:
            response = await client.post(
                f"/v1/payment_intents/{intent.id}/_authenticate",
                data={
                    "client_secret": intent.client_secret or "",
                    "success": "true" if success else "false",
                },
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
        assert response.status_code == 200, response.text

    try:
        yield Harness(provider, "pm_card_chargeCustomerFail", three_d_secure_method, authenticate)
    finally:
        await provider.aclose()
        await http.close_async()


async def _mock_harness() -> AsyncIterator[Harness]:
    mock = MockProvider(webhook_secret="whsec_contract")

    async def three_d_secure_method() -> str:
        return "pm_card_authenticationRequired"

    async def authenticate(intent: IntentSnapshot, success: bool) -> None:
        await mock.complete_authentication(
            intent.id, client_secret=intent.client_secret or "", success=success
        )

    yield Harness(mock, "pm_card_visa_chargeDeclined", three_d_secure_method, authenticate)


@pytest.fixture(params=["localstripe", "mock"])
async def harness(request) -> AsyncIterator[Harness]:
    if request.param == "localstripe":
        async for h in _localstripe_harness(request.getfixturevalue("localstripe")):
            yield h
    else:
        async for h in _mock_harness():
            yield h


def key(req: IntentRequest, step: ProviderStep, extra: str = "") -> str:
    return domain.provider_idempotency_key(step, req.payment_id, extra)


async def test_authorize_with_manual_capture_then_capture(harness):
    provider, req = harness.provider, intent_request()
    authorized = await provider.create_intent(req, idempotency_key=key(req, ProviderStep.AUTHORIZE))
    assert authorized.status is IntentStatus.REQUIRES_CAPTURE
    assert authorized.capture_method is CaptureMethod.MANUAL
    assert (authorized.amount_minor, authorized.currency) == (3_000, "EUR")
    assert authorized.amount_capturable_minor == 3_000
    assert authorized.amount_received_minor == 0
    assert authorized.client_secret
    assert authorized.metadata["order_id"] == req.order_id
    assert authorized.metadata["payment_id"] == req.payment_id
    assert domain.status_from_intent(authorized) is PaymentStatus.AUTHORIZED

    captured = await provider.capture_intent(
        authorized.id, idempotency_key=key(req, ProviderStep.CAPTURE)
    )
    assert captured.status is IntentStatus.SUCCEEDED
    assert (captured.amount_received_minor, captured.amount_capturable_minor) == (3_000, 0)
    assert domain.status_from_intent(captured) is PaymentStatus.CAPTURED
    assert await provider.retrieve_intent(authorized.id) == captured


async def test_authorize_then_void(harness):
    provider, req = harness.provider, intent_request()
    authorized = await provider.create_intent(req, idempotency_key=key(req, ProviderStep.AUTHORIZE))
    voided = await provider.cancel_intent(
        authorized.id, idempotency_key=key(req, ProviderStep.VOID)
    )
    assert voided.status is IntentStatus.CANCELED
    assert voided.was_authorized
    assert domain.status_from_intent(voided) is PaymentStatus.VOIDED
    assert domain.status_from_intent(await provider.retrieve_intent(authorized.id)) is (
        PaymentStatus.VOIDED
    )


async def test_automatic_capture_then_partial_and_full_refunds(harness):
    provider, req = harness.provider, intent_request(amount=5_000, capture=CaptureMethod.AUTOMATIC)
    paid = await provider.create_intent(req, idempotency_key=key(req, ProviderStep.AUTHORIZE))
    assert paid.status is IntentStatus.SUCCEEDED
    assert paid.amount_received_minor == 5_000

    partial = await provider.refund_intent(
        paid.id, idempotency_key=key(req, ProviderStep.REFUND, "r1"), amount_minor=1_200
    )
    assert (partial.amount_minor, partial.status, partial.currency) == (1_200, "succeeded", "EUR")
    assert partial.payment_intent_id == paid.id
    after_partial = await provider.retrieve_intent(paid.id)
    assert after_partial.amount_refunded_minor == 1_200
    assert domain.status_from_intent(after_partial) is PaymentStatus.PARTIALLY_REFUNDED

    rest = await provider.refund_intent(
        paid.id, idempotency_key=key(req, ProviderStep.REFUND, "r2"), amount_minor=3_800
    )
    assert rest.amount_minor == 3_800
    refunded = await provider.retrieve_intent(paid.id)
    assert refunded.amount_refunded_minor == 5_000
    assert domain.status_from_intent(refunded) is PaymentStatus.REFUNDED


async def test_a_full_refund_without_an_amount(harness):
    provider, req = harness.provider, intent_request(amount=4_200)
    intent = await provider.create_intent(req, idempotency_key=key(req, ProviderStep.AUTHORIZE))
    await provider.capture_intent(intent.id, idempotency_key=key(req, ProviderStep.CAPTURE))
    refund = await provider.refund_intent(intent.id, idempotency_key=key(req, ProviderStep.REFUND))
    assert refund.amount_minor == 4_200
    truth = await provider.retrieve_intent(intent.id)
    assert domain.status_from_intent(truth) is PaymentStatus.REFUNDED


async def test_a_declined_card_is_a_definite_decline(harness):
    req = intent_request(harness.declining_method)
    with pytest.raises(PaymentDeclined) as declined:
        await harness.provider.create_intent(req, idempotency_key=key(req, ProviderStep.AUTHORIZE))
    assert declined.value.code == "card_declined"
    if declined.value.intent is not None:  # Stripe and the mock name it; localstripe does not
        assert domain.status_from_intent(declined.value.intent) is PaymentStatus.FAILED


@pytest.mark.parametrize("success", [True, False], ids=["completed", "failed"])
async def test_three_d_secure(harness, success):
    req = intent_request(await harness.three_d_secure_method())
    pending = await harness.provider.create_intent(
        req, idempotency_key=key(req, ProviderStep.AUTHORIZE)
    )
    assert pending.status is IntentStatus.REQUIRES_ACTION
    assert pending.client_secret
    assert domain.status_from_intent(pending) is PaymentStatus.REQUIRES_ACTION

    await harness.authenticate(pending, success)
    truth = await harness.provider.retrieve_intent(pending.id)
    if success:
        assert truth.status is IntentStatus.REQUIRES_CAPTURE
        assert domain.status_from_intent(truth) is PaymentStatus.AUTHORIZED
    else:
        assert truth.status is IntentStatus.REQUIRES_PAYMENT_METHOD
        assert truth.last_error_code == "payment_intent_authentication_failure"
        assert domain.status_from_intent(truth) is PaymentStatus.FAILED


async def test_missing_intents_and_bad_requests_are_told_apart(harness):
    with pytest.raises(IntentNotFound):
        await harness.provider.retrieve_intent("pi_doesnotexist")
    req = intent_request(amount=0)
    with pytest.raises(InvalidProviderRequest) as refused:
        await harness.provider.create_intent(req, idempotency_key=key(req, ProviderStep.AUTHORIZE))
    assert not isinstance(refused.value, IntentNotFound)
