"""Payments' composition root: database, provider (Stripe or the mock), the port to checkout,
the use cases and the outbox relay, built without FastAPI for the web app, the gRPC servicer,
the Celery worker (reconciliation calls the provider and checkout from there) and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from vanity_common.bootstrap import ServiceContainer
from vanity_common.clock import Clock, utcnow
from vanity_common.db import Database
from vanity_common.grpc_client import ChannelPool
from vanity_common.outbox import OutboxRelay

from vanity_payments.delivery import (
    HttpWebhookSender,
    MockWebhookDelivery,
    OutcomeReporter,
    WebhookSender,
)
from vanity_payments.ports import CheckoutPort
from vanity_payments.providers import PaymentProvider
from vanity_payments.providers.configured import provider_from_settings
from vanity_payments.providers.mock import MockProvider
from vanity_payments.providers.mock_store import MOCK_WEBHOOK_TOPIC, SqlMockStore
from vanity_payments.service import OUTCOME_TOPIC, PaymentService
from vanity_payments.settings import PaymentsSettings, load_settings


@dataclass(kw_only=True, eq=False)
class PaymentsContainer(ServiceContainer):
    settings: PaymentsSettings
    provider: PaymentProvider
    checkout: CheckoutPort
    payments: PaymentService
    relay: OutboxRelay
    # False: the web process does not run the relay in the background (tests drain it).
    run_relay: bool = True

    def outbox_relays(self) -> list[OutboxRelay]:
        return [self.relay] if self.run_relay else []

    @property
    def mock_provider(self) -> MockProvider | None:
        return self.provider if isinstance(self.provider, MockProvider) else None


def build_container(
    settings: PaymentsSettings | None = None,
    *,
    clock: Clock = utcnow,
    provider: PaymentProvider | None = None,
    checkout: CheckoutPort | None = None,
    webhook_sender: WebhookSender | None = None,
    db: Database | None = None,
    channels: ChannelPool | None = None,
    pool_size: int | None = None,
    run_relay: bool = True,
) -> PaymentsContainer:
    """Tests pass a provider (with faults), a fake checkout port, a webhook sender (to reach an
    in-process app), a clock or a database; the rest comes from the settings."""
    settings = settings or load_settings()
    core = PaymentsContainer.core(settings, db=db, channels=channels, pool_size=pool_size)
    database: Database = core["db"]
    provider = provider or provider_from_settings(
        settings, mock_store=SqlMockStore(database, clock=clock)
    )
    checkout = checkout or CheckoutPort.from_settings(core["channels"], settings)
    handlers = {OUTCOME_TOPIC: OutcomeReporter(checkout)}
    closers = [provider.aclose]
    if isinstance(provider, MockProvider):
        if webhook_sender is None:
            http_sender = HttpWebhookSender(settings.webhook_self_url)
            closers.append(http_sender.aclose)
            webhook_sender = http_sender
        handlers[MOCK_WEBHOOK_TOPIC] = MockWebhookDelivery(provider, webhook_sender)
    payments = PaymentService(
        database,
        provider,
        webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
        webhook_tolerance_s=settings.stripe_webhook_tolerance_s,
        checkout=checkout,
        clock=clock,
        pending_after=timedelta(seconds=settings.reconcile_pending_after_s),
        authorized_after=timedelta(seconds=settings.reconcile_authorized_after_s),
        reconcile_batch=settings.reconcile_batch,
    )
    container = PaymentsContainer(
        **core,
        clock=clock,
        provider=provider,
        checkout=checkout,
        payments=payments,
        relay=OutboxRelay(database, handlers, service="payments", clock=clock),
        run_relay=run_relay,
    )
    for closer in closers:
        container.on_close(closer)
    return container
