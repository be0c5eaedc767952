"""The payment provider port: what payments needs from Stripe (or the mock that behaves like it).

Every mutating call takes a deterministic idempotency key (`domain.provider_idempotency_key`), so
a retry after a timeout or a crash replays the provider's first answer instead of moving money
twice. Calls answer with a provider-neutral snapshot of the PaymentIntent, or raise:

- `PaymentDeclined`: a definite outcome; the card was refused, nothing is held.
- `InvalidProviderRequest` (and `IdempotencyKeyReused`, `IntentNotFound`): a definite refusal of
  the request itself (bad parameters, wrong state, key reused); nothing happened.
- `UnknownOutcome`: timeout, connection error or 5xx after the SDK's retries; the call may or may
  not have taken effect. Retry with the same key, or retrieve the intent; never create a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from vanity_payments.domain import IntentStatus

__all__ = [
    "CaptureMethod",
    "IdempotencyKeyReused",
    "IntentNotFound",
    "IntentRequest",
    "IntentSnapshot",
    "IntentStatus",
    "InvalidProviderRequest",
    "PaymentDeclined",
    "PaymentProvider",
    "ProviderError",
    "ProviderMisconfigured",
    "RefundSnapshot",
    "UnknownOutcome",
]


class CaptureMethod(StrEnum):
    MANUAL = "manual"  # authorize now, capture later (funds held up to ~7 days)
    AUTOMATIC = "automatic"  # authorize and capture at once


@dataclass(frozen=True)
class IntentRequest:
    """Create and confirm a PaymentIntent for one payment of one order."""

    payment_id: str
    order_id: str
    amount_minor: int
    currency: str  # ISO 4217, any case (Stripe wants lowercase; adapters convert)
    payment_method: str  # e.g. "pm_card_visa"
    capture_method: CaptureMethod = CaptureMethod.MANUAL
    metadata: Mapping[str, str] = field(default_factory=dict)

    def provider_metadata(self) -> dict[str, str]:
        """Carried on the intent so its events and the dashboard lead back to our records."""
        return {**self.metadata, "order_id": self.order_id, "payment_id": self.payment_id}


@dataclass(frozen=True)
class IntentSnapshot:
    """The intent's state as the provider answered it (satisfies `domain.IntentTruth`)."""

    id: str
    status: IntentStatus
    amount_minor: int
    currency: str  # upper case
    capture_method: CaptureMethod
    amount_capturable_minor: int = 0  # held and capturable (requires_capture)
    amount_received_minor: int = 0  # collected
    amount_refunded_minor: int = 0  # returned from the collected amount
    client_secret: str | None = None
    last_error_code: str | None = None  # e.g. card_declined, payment_intent_authentication_failure
    decline_code: str | None = None  # the issuer's reason, e.g. insufficient_funds
    cancellation_reason: str | None = None
    was_authorized: bool = False  # its charge was authorized (so a cancel released a hold)
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundSnapshot:
    id: str
    payment_intent_id: str
    amount_minor: int
    currency: str
    status: str  # Stripe's: pending, requires_action, succeeded, failed, canceled


class ProviderError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PaymentDeclined(ProviderError):
    """The card was declined: a definite outcome. `intent` is the failed intent when the provider
    names it (Stripe does; localstripe does not)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = "card_declined",
        decline_code: str | None = None,
        intent: IntentSnapshot | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.decline_code = decline_code
        self.intent = intent

    @property
    def failure_reason(self) -> str:
        return self.decline_code or self.code or "card_declined"


class InvalidProviderRequest(ProviderError):
    """Refused as asked (bad parameter, intent in the wrong state): nothing happened."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        http_status: int | None = 400,
    ) -> None:
        super().__init__(message, code=code)
        self.param = param
        self.http_status = http_status


class IdempotencyKeyReused(InvalidProviderRequest):
    """The same idempotency key with different parameters (or another endpoint)."""


class IntentNotFound(InvalidProviderRequest):
    """No such intent (`resource_missing`)."""


class ProviderMisconfigured(ProviderError):
    """The provider refused our credentials or permissions: an operator must act."""


class UnknownOutcome(ProviderError):
    """Timed out, lost the connection or got a 5xx after retries: the call may have taken effect.
    The payment stays pending; retry with the same idempotency key or retrieve the intent."""


class PaymentProvider(Protocol):
    """The port. Adapters: `providers.stripe.StripeProvider`, `providers.mock.MockProvider`."""

    name: str  # "stripe" or "mock": stored on each payment

    async def create_intent(
        self, request: IntentRequest, *, idempotency_key: str
    ) -> IntentSnapshot:
        """Creates and confirms the intent. Ends `requires_capture` (manual), `succeeded`
        (automatic) or `requires_action` (3-D Secure, with client_secret); raises
        PaymentDeclined when the card is refused."""
        ...

    async def retrieve_intent(self, intent_id: str) -> IntentSnapshot: ...

    async def find_intent(self, payment_id: str) -> IntentSnapshot | None:
        """The intent created for our payment (by metadata), for an unknown outcome whose intent
        id we never learned. Stripe's search is eventually consistent (about a minute)."""
        ...

    async def capture_intent(
        self, intent_id: str, *, idempotency_key: str, amount_minor: int | None = None
    ) -> IntentSnapshot:
        """Captures all (None) or part of a `requires_capture` intent; the rest is released."""
        ...

    async def cancel_intent(self, intent_id: str, *, idempotency_key: str) -> IntentSnapshot:
        """Cancels an uncaptured intent (the void); refused once captured."""
        ...

    async def refund_intent(
        self, intent_id: str, *, idempotency_key: str, amount_minor: int | None = None
    ) -> RefundSnapshot:
        """Refunds all (None) or part of what a succeeded intent collected."""
        ...

    async def aclose(self) -> None: ...
