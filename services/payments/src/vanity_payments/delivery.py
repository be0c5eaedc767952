"""Outbox handlers: what payments' relay does with the messages its transactions wrote.

- `payments.mock_stripe_event` (written by the mock provider with its intent): signed and POSTed
  to payments' own webhook endpoint, exactly as Stripe delivers events, including the
  duplicates and the disorder the mock's faults ask for. A non-2xx answer fails the delivery,
  which the relay retries with backoff (Stripe retries for days).
- `payments.payment_outcome` (written with the transition a webhook or reconciliation made):
  told to checkout through `CheckoutService.ReportPaymentOutcome`, idempotent on the
  provider event id there, so a redelivery is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx
from vanity_common.outbox import OutboxMessage

from vanity_payments.ports import CheckoutPort, PaymentOutcome
from vanity_payments.providers.mock import MockProvider, SignedWebhook

log = logging.getLogger(__name__)

WebhookSender = Callable[[SignedWebhook], Awaitable[None]]
# With the mock's reorder fault, each delivery waits a random (seeded) moment up to this long,
# so the events of one batch (delivered concurrently by the relay) arrive out of order.
MAX_REORDER_DELAY_S = 0.05


class WebhookRejected(Exception):
    """The endpoint did not answer 2xx: the relay retries the event later."""


class HttpWebhookSender:
    """POSTs a signed event to a URL (payments' own webhook route)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, webhook: SignedWebhook) -> None:
        if self._client is None:  # made on first use: it belongs to the running loop
            self._client = httpx.AsyncClient(timeout=self.timeout_s)
        response = await self._client.post(
            self.url, content=webhook.payload, headers=webhook.headers
        )
        if not response.is_success:
            raise WebhookRejected(
                f"{webhook.event_type} {webhook.event_id}: HTTP {response.status_code}"
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class MockWebhookDelivery:
    def __init__(self, provider: MockProvider, send: WebhookSender) -> None:
        self.provider = provider
        self.send = send

    async def __call__(self, message: OutboxMessage) -> None:
        shuffle = self.provider.faults.webhook_shuffle
        for webhook in self.provider.signed_webhooks([message.payload]):
            if shuffle is not None:
                await asyncio.sleep(shuffle.uniform(0, MAX_REORDER_DELAY_S))
            await self.send(webhook)


class OutcomeReporter:
    def __init__(self, checkout: CheckoutPort) -> None:
        self.checkout = checkout

    async def __call__(self, message: OutboxMessage) -> None:
        p = message.payload
        order = await self.checkout.report_payment_outcome(
            order_id=p["order_id"],
            payment_id=p["payment_id"],
            outcome=PaymentOutcome(p["outcome"]),
            provider_event_id=p["provider_event_id"],
            failure_reason=p.get("failure_reason", ""),
        )
        if order is None:
            log.info(
                "payment outcome for an order checkout does not know",
                extra={
                    "event": "payment_outcome_orphan",
                    "order_id": p["order_id"],
                    "payment_id": p["payment_id"],
                },
            )
