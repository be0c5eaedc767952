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

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.payment_provider == "mock":
            problems.append("PAYMENT_PROVIDER is mock; production charges through Stripe")
        return problems


def load_settings(**overrides) -> PaymentsSettings:
    return PaymentsSettings(**overrides)
