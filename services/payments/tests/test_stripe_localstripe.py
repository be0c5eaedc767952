"""The Stripe adapter through the official SDK against localstripe (a stateful fake Stripe API,
started once per run on a free port, see conftest.py): signed webhooks verified by the SDK. A tiny
fake API covers what localstripe cannot answer: 5xx and timeouts after the SDK's retries
(UnknownOutcome), idempotency errors. Money movements and 3-D Secure run against both localstripe
and the mock in test_provider_contract.py.

localstripe does not honour idempotency keys, refunds uncaptured intents, allows over-refunds and
captures cancelled intents: Stripe's behaviour there is proved on the mock provider
(test_mock_provider.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe
from aiohttp import web
from vanity_payments import domain
from vanity_payments.domain import PaymentStatus
from vanity_payments.providers import (
    CaptureMethod,
    IdempotencyKeyReused,
    IntentRequest,
    PaymentDeclined,
    UnknownOutcome,
)
from vanity_payments.providers.stripe import StripeProvider
from vanity_payments.providers.webhooks import SIGNATURE_HEADER, verify_webhook

from .builders import intent_request

# stripe's HTTPXClient posts form bodies with httpx's deprecated `data=` bytes (not our code).
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

API_KEY = "sk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe_tests"
WEBHOOK_TIMEOUT_S = 15.0  # localstripe sends about 1 s after the change


@pytest.fixture
async def provider(localstripe) -> AsyncIterator[StripeProvider]:
    p = StripeProvider(API_KEY, api_base=localstripe, max_network_retries=1, timeout_s=10)
    yield p
    await p.aclose()


def key(req: IntentRequest, step: domain.ProviderStep, extra: str = "") -> str:
    return domain.provider_idempotency_key(step, req.payment_id, extra)


# --------------------------------------------------------------------------- webhooks


class WebhookReceiver:
    """A tiny HTTP endpoint on a free port collecting what localstripe posts."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str | None]] = []
        self.arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _receive(self, request: web.Request) -> web.Response:
        self.deliveries.append((await request.read(), request.headers.get(SIGNATURE_HEADER)))
        self.arrived.set()
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/stripe", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hooks/stripe"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def wait_for(self, event_type: str, intent_id: str) -> tuple[bytes, str | None]:
        async def matching() -> tuple[bytes, str | None]:
            while True:
                for payload, signature in self.deliveries:
                    event = verify_webhook(payload, signature, WEBHOOK_SECRET)
                    if event.type == event_type and event.payment_intent_id == intent_id:
                        return payload, signature
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(matching(), WEBHOOK_TIMEOUT_S)


@pytest.fixture
async def receiver(localstripe) -> AsyncIterator[WebhookReceiver]:
    hook = WebhookReceiver()
    await hook.start()
    async with httpx.AsyncClient(base_url=localstripe) as http:
        response = await http.post(
            f"/_config/webhooks/payments-{uuid.uuid4().hex}",
            data={"url": hook.url, "secret": WEBHOOK_SECRET},
        )
        assert response.status_code == 200, response.text
    yield hook
    await hook.stop()


async def test_signed_webhooks_from_localstripe_are_verified_by_the_sdk(provider, receiver):
    req = intent_request()
    intent = await provider.create_intent(
        req, idempotency_key=key(req, domain.ProviderStep.AUTHORIZE)
    )
    await provider.capture_intent(intent.id, idempotency_key=key(req, domain.ProviderStep.CAPTURE))

    payload, signature = await receiver.wait_for("payment_intent.succeeded", intent.id)
    event = stripe.Webhook.construct_event(payload, signature, WEBHOOK_SECRET)
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == intent.id
    assert event.data.object.metadata.payment_id == req.payment_id
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature, "whsec_not_ours")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            payload.replace(b"succeeded", b"canceled"), signature, WEBHOOK_SECRET
        )


async def test_a_declined_payment_is_reported_by_webhook(provider, receiver):
    req = intent_request("pm_card_chargeCustomerFail", capture=CaptureMethod.AUTOMATIC)
    with pytest.raises(PaymentDeclined):
        await provider.create_intent(req, idempotency_key=key(req, domain.ProviderStep.AUTHORIZE))

    # localstripe's decline names no intent; its webhook does.
    async def failed_event():
        while True:
            for payload, signature in receiver.deliveries:
                event = verify_webhook(payload, signature, WEBHOOK_SECRET)
                if event.type == "payment_intent.payment_failed" and (
                    event.data.get("metadata", {}).get("payment_id") == req.payment_id
                ):
                    return event
            receiver.arrived.clear()
            await receiver.arrived.wait()

    event = await asyncio.wait_for(failed_event(), WEBHOOK_TIMEOUT_S)
    truth = await provider.retrieve_intent(event.payment_intent_id)
    assert domain.status_from_intent(truth) is PaymentStatus.FAILED
    assert truth.last_error_code == "card_declined"


# ------------------------------------------------- what localstripe cannot do: a failing API


class FakeStripeApi:
    """Answers every request with one canned reply and records what it was sent."""

    def __init__(self, status: int, body: dict | None = None, hang: bool = False) -> None:
        self.status, self.body, self.hang = status, body or {}, hang
        self.idempotency_keys: list[str | None] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.idempotency_keys.append(request.headers.get("Idempotency-Key"))
        if self.hang:
            await self._release.wait()  # never answers in time: the client times out
        return web.json_response(self.body, status=self.status)

    async def __aenter__(self) -> FakeStripeApi:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc) -> None:
        self._release.set()
        if self._runner:
            await self._runner.cleanup()


async def test_5xx_after_the_sdk_retries_is_an_unknown_outcome_retried_with_our_key():
    req = intent_request()
    idempotency_key = key(req, domain.ProviderStep.AUTHORIZE)
    error = {"error": {"type": "api_error", "message": "boom"}}
    async with FakeStripeApi(500, error) as api:
        provider = StripeProvider(API_KEY, api_base=api.base, max_network_retries=2)
        try:
            with pytest.raises(UnknownOutcome):
                await provider.create_intent(req, idempotency_key=idempotency_key)
        finally:
            await provider.aclose()
    assert api.idempotency_keys == [idempotency_key] * 3  # the first call and two retries


async def test_a_timeout_is_an_unknown_outcome():
    req = intent_request()
    async with FakeStripeApi(200, hang=True) as api:
        provider = StripeProvider(API_KEY, api_base=api.base, max_network_retries=0, timeout_s=0.3)
        try:
            with pytest.raises(UnknownOutcome):
                await provider.capture_intent(
                    "pi_x", idempotency_key=key(req, domain.ProviderStep.CAPTURE)
                )
        finally:
            await provider.aclose()


async def test_a_refused_connection_is_an_unknown_outcome(unused_port):
    provider = StripeProvider(
        API_KEY, api_base=f"http://127.0.0.1:{unused_port}", max_network_retries=0
    )
    try:
        with pytest.raises(UnknownOutcome):
            await provider.retrieve_intent("pi_x")
    finally:
        await provider.aclose()


async def test_stripes_idempotency_error_is_a_reused_key():
    error = {"error": {"type": "idempotency_error", "message": "Keys for idempotent requests..."}}
    req = intent_request()
    async with FakeStripeApi(400, error) as api:
        provider = StripeProvider(API_KEY, api_base=api.base, max_network_retries=0)
        try:
            with pytest.raises(IdempotencyKeyReused):
                await provider.create_intent(
                    req, idempotency_key=key(req, domain.ProviderStep.AUTHORIZE)
                )
        finally:
            await provider.aclose()
