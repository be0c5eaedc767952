"""The provider the settings ask for (the composition root calls this)."""

from __future__ import annotations

from vanity_payments.providers import PaymentProvider
from vanity_payments.providers.mock import InMemoryMockStore, MockProvider, MockStore
from vanity_payments.providers.stripe import StripeProvider
from vanity_payments.providers.webhooks import SUBSCRIBED_EVENT_TYPES
from vanity_payments.settings import PaymentsSettings


def provider_from_settings(
    settings: PaymentsSettings, *, mock_store: MockStore | None = None
) -> PaymentProvider:
    """Stripe through the SDK, or the mock (its intents in `mock_store`: payments' tables once
    wired; in memory otherwise). Production never gets here with the mock (check_production)."""
    if settings.payment_provider == "stripe":
        return StripeProvider(
            settings.stripe_secret_key.get_secret_value(),
            api_base=settings.stripe_api_base,
            max_network_retries=settings.stripe_max_network_retries,
            timeout_s=settings.stripe_timeout_s,
        )
    return MockProvider(
        mock_store if mock_store is not None else InMemoryMockStore(),
        webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
        enabled_events=SUBSCRIBED_EVENT_TYPES,
    )
