from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import SecretStr
from vanity_common.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: ClassVar[str] = "payments"
    default_http_port: ClassVar[int] = 8006
    default_grpc_port: ClassVar[int] = 50056

    payment_provider: Literal["mock", "stripe"] = "mock"
    stripe_secret_key: SecretStr = SecretStr("dev-insecure-stripe-secret-key")
    stripe_webhook_secret: SecretStr = SecretStr("dev-insecure-stripe-webhook-secret")
    stripe_webhook_tolerance_s: int = 300
    # Another API address for Stripe's SDK (localstripe in tests); unset: Stripe itself.
    stripe_api_base: str | None = None
    # The SDK retries connection errors, 409 and 5xx with the same idempotency key.
    stripe_max_network_retries: int = 2
    stripe_timeout_s: float = 10.0
    # Where the mock provider's relay delivers its signed events (payments' own webhook route);
    # unset: this process' own HTTP port on 127.0.0.1.
    mock_webhook_url: str | None = None

    # Reconciliation (Celery beat): payments left open or authorized longer than these are
    # checked against the provider's truth; authorizations whose order is gone are voided.
    reconcile_interval_s: float = 60.0
    reconcile_pending_after_s: float = 300.0
    reconcile_authorized_after_s: float = 3600.0
    reconcile_batch: int = 100

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.payment_provider == "mock":
            problems.append("PAYMENT_PROVIDER is mock; production charges through Stripe")
        secret_key = self.stripe_secret_key.get_secret_value()
        if secret_key.startswith(("sk_test_", "rk_test_")):
            problems.append("STRIPE_SECRET_KEY is a test-mode key; production needs a live key")
        if self.stripe_api_base:
            problems.append("STRIPE_API_BASE is set; production talks to Stripe's own API")
        return problems

    @property
    def webhook_self_url(self) -> str:
        if self.mock_webhook_url:
            return self.mock_webhook_url
        return f"http://127.0.0.1:{self.http_port}/api/v1/payments/webhooks/stripe"


def load_settings(**overrides) -> PaymentsSettings:
    return PaymentsSettings(**overrides)
