"""The Stripe adapter: PaymentIntents and Refunds through the official SDK's async methods.

- Every mutating call sends our deterministic idempotency key (the SDK would otherwise invent a
  random one per call, and a retry after a crash would charge twice).
- `max_network_retries` lets the SDK retry connection errors, 409 and 5xx with that same key;
  whatever is still unanswered after them is an `UnknownOutcome`.
- Intents are expanded with `latest_charge`, whose `amount_refunded` tells what was returned.
"""

from __future__ import annotations

from typing import Any

import stripe

from vanity_payments.providers import (
    CaptureMethod,
    IdempotencyKeyReused,
    IntentNotFound,
    IntentRequest,
    IntentSnapshot,
    IntentStatus,
    InvalidProviderRequest,
    PaymentDeclined,
    ProviderError,
    ProviderMisconfigured,
    RefundSnapshot,
    UnknownOutcome,
)

EXPAND = ["latest_charge"]


class StripeProvider:
    name = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        max_network_retries: int = 2,
        timeout_s: float = 10.0,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=self._http,
        )
        self._intents = self._client.v1.payment_intents
        self._refunds = self._client.v1.refunds

    async def aclose(self) -> None:
        await self._http.close_async()

    async def create_intent(
        self, request: IntentRequest, *, idempotency_key: str
    ) -> IntentSnapshot:
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "payment_method": request.payment_method,
            # Cards only: confirming server-side then needs no return_url.
            "payment_method_types": ["card"],
            "capture_method": request.capture_method.value,
            "confirm": True,
            "metadata": request.provider_metadata(),
            "expand": EXPAND,
        }
        try:
            intent = await self._intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise translate_error(exc) from exc
        return intent_snapshot(intent.to_dict())

    async def retrieve_intent(self, intent_id: str) -> IntentSnapshot:
        try:
            intent = await self._intents.retrieve_async(intent_id, params={"expand": EXPAND})
        except stripe.StripeError as exc:
            raise translate_error(exc) from exc
        return intent_snapshot(intent.to_dict())

    async def find_intent(self, payment_id: str) -> IntentSnapshot | None:
        query = f"metadata['payment_id']:'{payment_id}'"
        try:
            found = await self._intents.search_async(params={"query": query, "limit": 1})
        except stripe.StripeError as exc:
            raise translate_error(exc) from exc
        if not found.data:
            return None
        return await self.retrieve_intent(found.data[0].id)

    async def capture_intent(
        self, intent_id: str, *, idempotency_key: str, amount_minor: int | None = None
    ) -> IntentSnapshot:
        params: dict[str, Any] = {"expand": EXPAND}
        if amount_minor is not None:
            params["amount_to_capture"] = amount_minor
        try:
            intent = await self._intents.capture_async(
                intent_id,
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise translate_error(exc) from exc
        return intent_snapshot(intent.to_dict())

    async def cancel_intent(self, intent_id: str, *, idempotency_key: str) -> IntentSnapshot:
        try:
            intent = await self._intents.cancel_async(
                intent_id,
                params={"expand": EXPAND},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise translate_error(exc) from exc
        return intent_snapshot(intent.to_dict())

    async def refund_intent(
        self, intent_id: str, *, idempotency_key: str, amount_minor: int | None = None
    ) -> RefundSnapshot:
        params: dict[str, Any] = {"payment_intent": intent_id}
        if amount_minor is not None:
            params["amount"] = amount_minor
        try:
            refund = await self._refunds.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise translate_error(exc) from exc
        return RefundSnapshot(
            id=refund.id,
            payment_intent_id=intent_id,
            amount_minor=int(refund.amount),
            currency=str(refund.currency).upper(),
            status=str(refund.status),
        )


def intent_snapshot(intent: dict[str, Any]) -> IntentSnapshot:
    """A PaymentIntent (as a dict, `latest_charge` expanded or not) in the port's terms."""
    status = IntentStatus(intent["status"])
    amount = int(intent["amount"])
    charge = intent.get("latest_charge")
    charge = charge if isinstance(charge, dict) else None
    # localstripe omits amount_capturable and amount_received: derive them from the status.
    capturable = intent.get("amount_capturable")
    if capturable is None:
        capturable = amount if status is IntentStatus.REQUIRES_CAPTURE else 0
    received = intent.get("amount_received")
    if received is None:
        collected = charge.get("amount_captured", charge.get("amount")) if charge else amount
        received = int(collected or 0) if status is IntentStatus.SUCCEEDED else 0
    refunded = 0
    if charge and status is IntentStatus.SUCCEEDED:
        # A partial capture releases the rest of the hold, and Stripe counts that release in the
        # charge's amount_refunded: only what exceeds it went back to the customer.
        released = int(charge.get("amount", amount)) - int(received)
        refunded = max(0, int(charge.get("amount_refunded") or 0) - released)
    error = intent.get("last_payment_error") or {}
    was_authorized = status in (IntentStatus.REQUIRES_CAPTURE, IntentStatus.SUCCEEDED) or bool(
        charge and charge.get("status") == "succeeded"
    )
    return IntentSnapshot(
        id=intent["id"],
        status=status,
        amount_minor=amount,
        currency=str(intent.get("currency") or "").upper(),
        capture_method=(
            CaptureMethod.MANUAL
            if intent.get("capture_method") == "manual"
            else CaptureMethod.AUTOMATIC
        ),
        amount_capturable_minor=int(capturable),
        amount_received_minor=int(received),
        amount_refunded_minor=refunded,
        client_secret=intent.get("client_secret"),
        last_error_code=error.get("code"),
        decline_code=error.get("decline_code"),
        cancellation_reason=intent.get("cancellation_reason"),
        was_authorized=was_authorized,
        metadata=dict(intent.get("metadata") or {}),
    )


def translate_error(exc: stripe.StripeError) -> ProviderError:
    """The SDK's errors in the port's three outcomes: declined, refused as asked, unknown."""
    message = exc.user_message or str(exc)
    code = exc.code
    if isinstance(exc, stripe.CardError):
        error = exc.error
        intent = getattr(error, "payment_intent", None) if error else None
        return PaymentDeclined(
            message,
            code=code or "card_declined",
            decline_code=getattr(error, "decline_code", None) if error else None,
            intent=intent_snapshot(intent.to_dict()) if intent is not None else None,
        )
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyKeyReused(message, code=code or "idempotency_error", http_status=400)
    if isinstance(exc, stripe.InvalidRequestError):
        # resource_missing also names a missing PaymentMethod (param "payment_method").
        missing_intent = (code == "resource_missing" and exc.param in (None, "intent", "id")) or (
            code is None and exc.http_status == 404  # localstripe's bare 404
        )
        kind = IntentNotFound if missing_intent else InvalidProviderRequest
        return kind(message, code=code, param=exc.param, http_status=exc.http_status)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ProviderMisconfigured(message, code=code)
    if isinstance(exc, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        return UnknownOutcome(message, code=code)
    if exc.http_status is not None and exc.http_status < 500:
        return InvalidProviderRequest(message, code=code, http_status=exc.http_status)
    return UnknownOutcome(message, code=code)
