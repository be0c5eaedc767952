"""A mock payment provider that behaves like Stripe, for `make run` and most tests.

- Stripe's test PaymentMethods: `pm_card_visa` (and the other plain brands) succeed,
  `pm_card_visa_chargeDeclined` / `pm_card_chargeDeclinedInsufficientFunds` / ... decline with
  Stripe's codes, `pm_card_authenticationRequired` needs 3-D Secure (finished or failed by
  `complete_authentication`, what Stripe.js would do after the customer's challenge).
- Idempotency keys as Stripe honours them: the same key with the same parameters replays the first
  answer (an error too); the same key with other parameters or on another endpoint is refused;
  requests refused by validation are not remembered.
- Intents, refunds, remembered answers and the events to deliver live behind `MockStore`
  (in memory here; payments' own tables once the service wires it), each call in one transaction.
- Events are Stripe-shaped (`id`, `type`, `created`, `data.object`) and signed exactly as Stripe
  signs them (`webhooks.sign_payload`), so `stripe.Webhook.construct_event` accepts them.
- Faults on demand (`MockProvider.faults`): latency, timeout with the call applied or not, 5xx, and
  duplicated or reordered webhook deliveries.

The intent's own rules (`MockIntent`) are pure, so property tests can drive them directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

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
    RefundSnapshot,
    UnknownOutcome,
)
from vanity_payments.providers.stripe import intent_snapshot
from vanity_payments.providers.webhooks import SIGNATURE_HEADER, sign_payload

MAX_AMOUNT_MINOR = 99_999_999
CONFLICT_ATTEMPTS = 5


# ---------------------------------------------------------------- Stripe's test PaymentMethods


class CardOutcome(StrEnum):
    SUCCEEDS = "succeeds"
    DECLINES = "declines"
    REQUIRES_AUTHENTICATION = "requires_authentication"


@dataclass(frozen=True)
class CardBehaviour:
    outcome: CardOutcome
    code: str | None = None  # Stripe's error code on a decline
    decline_code: str | None = None
    message: str | None = None


_SUCCEEDS = CardBehaviour(CardOutcome.SUCCEEDS)
_GENERIC_DECLINE = CardBehaviour(
    CardOutcome.DECLINES, "card_declined", "generic_decline", "Your card was declined."
)
TEST_PAYMENT_METHODS: Mapping[str, CardBehaviour] = {
    "pm_card_visa": _SUCCEEDS,
    "pm_card_visa_debit": _SUCCEEDS,
    "pm_card_mastercard": _SUCCEEDS,
    "pm_card_amex": _SUCCEEDS,
    "pm_card_visa_chargeDeclined": _GENERIC_DECLINE,
    "pm_card_chargeCustomerFail": _GENERIC_DECLINE,
    "pm_card_chargeDeclined": _GENERIC_DECLINE,
    "pm_card_chargeDeclinedInsufficientFunds": CardBehaviour(
        CardOutcome.DECLINES,
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedFraudulent": CardBehaviour(
        CardOutcome.DECLINES, "card_declined", "fraudulent", "Your card was declined."
    ),
    "pm_card_chargeDeclinedExpiredCard": CardBehaviour(
        CardOutcome.DECLINES, "expired_card", "expired_card", "Your card has expired."
    ),
    "pm_card_chargeDeclinedIncorrectCvc": CardBehaviour(
        CardOutcome.DECLINES,
        "incorrect_cvc",
        "incorrect_cvc",
        "Your card's security code is incorrect.",
    ),
    "pm_card_authenticationRequired": CardBehaviour(CardOutcome.REQUIRES_AUTHENTICATION),
    "pm_card_threeDSecure2Required": CardBehaviour(CardOutcome.REQUIRES_AUTHENTICATION),
}


# ------------------------------------------------------------------ Stripe-shaped errors


class MockStripeError(Exception):
    """An error answer as Stripe's API sends it: HTTP status and the `error` object."""

    def __init__(self, http_status: int, error: dict[str, Any], *, remembered: bool = True):
        super().__init__(error.get("message", ""))
        self.http_status = http_status
        self.error = error
        # Stripe remembers an answer under its idempotency key only once it started executing:
        # a request refused by validation can be retried with the same key.
        self.remembered = remembered


def _invalid(
    message: str, *, code: str, param: str | None = None, status: int = 400, remembered=True
) -> MockStripeError:
    error = {"type": "invalid_request_error", "code": code, "message": message}
    if param:
        error["param"] = param
    return MockStripeError(status, error, remembered=remembered)


def provider_error(http_status: int, error: Mapping[str, Any]) -> ProviderError:
    """What the Stripe adapter would raise for this answer (see stripe.translate_error)."""
    message = str(error.get("message") or "")
    code = error.get("code")
    if error.get("type") == "card_error":
        intent = error.get("payment_intent")
        return PaymentDeclined(
            message,
            code=code or "card_declined",
            decline_code=error.get("decline_code"),
            intent=intent_snapshot(intent) if intent else None,
        )
    if error.get("type") == "idempotency_error":
        return IdempotencyKeyReused(message, code=code or "idempotency_error", http_status=400)
    if code == "resource_missing" and error.get("param") in (None, "intent", "id"):
        return IntentNotFound(message, code=code, http_status=http_status)
    return InvalidProviderRequest(
        message, code=code, param=error.get("param"), http_status=http_status
    )


# ------------------------------------------------------------------- the intent's own rules


@dataclass(frozen=True)
class MockIntent:
    """A PaymentIntent with Stripe's rules; every operation returns the next state (pure)."""

    id: str
    charge_id: str
    client_secret: str
    amount: int
    currency: str  # lower case, as Stripe answers
    capture_method: CaptureMethod
    payment_method: str
    metadata: Mapping[str, str]
    created: int
    status: IntentStatus = IntentStatus.REQUIRES_CONFIRMATION
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0  # returned to the customer (not counting a released remainder)
    last_payment_error: Mapping[str, str] | None = None
    cancellation_reason: str | None = None
    charged: bool = False  # a charge exists (authorized at least once)

    # ---- Stripe's JSON

    def to_stripe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "currency": self.currency,
            "status": self.status.value,
            "capture_method": self.capture_method.value,
            "client_secret": self.client_secret,
            "payment_method": self.payment_method,
            "payment_method_types": ["card"],
            "metadata": dict(self.metadata),
            "last_payment_error": dict(self.last_payment_error)
            if self.last_payment_error
            else None,
            "cancellation_reason": self.cancellation_reason,
            "next_action": {"type": "use_stripe_sdk"}
            if self.status is IntentStatus.REQUIRES_ACTION
            else None,
            "created": self.created,
            "livemode": False,
            "latest_charge": self.charge_to_stripe() if self.charged else None,
        }

    def charge_to_stripe(self) -> dict[str, Any]:
        captured = self.status is IntentStatus.SUCCEEDED
        released = self.amount - self.amount_received if captured else 0
        return {
            "id": self.charge_id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount_received,
            # Like Stripe: a partial capture's released remainder counts as refunded.
            "amount_refunded": released + self.amount_refunded,
            "captured": captured,
            "refunded": captured and self.amount_refunded == self.amount_received,
            "currency": self.currency,
            "payment_intent": self.id,
            "status": "succeeded" if self.charged else "failed",
        }

    # ---- operations (each returns the next state and the event types Stripe would send)

    def confirm(self, card: CardBehaviour) -> tuple[MockIntent, list[str]]:
        if card.outcome is CardOutcome.REQUIRES_AUTHENTICATION:
            return replace(self, status=IntentStatus.REQUIRES_ACTION), [
                "payment_intent.requires_action"
            ]
        if card.outcome is CardOutcome.DECLINES:
            error = {
                "type": "card_error",
                "code": card.code or "card_declined",
                "decline_code": card.decline_code or "generic_decline",
                "message": card.message or "Your card was declined.",
            }
            return replace(
                self, status=IntentStatus.REQUIRES_PAYMENT_METHOD, last_payment_error=error
            ), ["payment_intent.payment_failed"]
        return self._authorized()

    def _authorized(self) -> tuple[MockIntent, list[str]]:
        if self.capture_method is CaptureMethod.MANUAL:
            return replace(
                self,
                status=IntentStatus.REQUIRES_CAPTURE,
                amount_capturable=self.amount,
                last_payment_error=None,
                charged=True,
            ), ["payment_intent.amount_capturable_updated"]
        return replace(
            self,
            status=IntentStatus.SUCCEEDED,
            amount_received=self.amount,
            last_payment_error=None,
            charged=True,
        ), ["payment_intent.succeeded"]

    def authenticate(self, success: bool) -> tuple[MockIntent, list[str]]:
        if self.status is not IntentStatus.REQUIRES_ACTION:
            raise _unexpected_state(self, "authenticate")
        if success:
            return self._authorized()
        error = {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "The provided PaymentMethod has failed authentication.",
        }
        return replace(
            self, status=IntentStatus.REQUIRES_PAYMENT_METHOD, last_payment_error=error
        ), ["payment_intent.payment_failed"]

    def capture(self, amount: int | None) -> tuple[MockIntent, list[str]]:
        if self.status is not IntentStatus.REQUIRES_CAPTURE:
            raise _unexpected_state(self, "capture")
        collected = self.amount_capturable if amount is None else amount
        if collected > self.amount_capturable:
            raise _invalid(
                f"The amount_to_capture {collected} exceeds the capturable "
                f"{self.amount_capturable}.",
                code="amount_too_large",
                param="amount_to_capture",
            )
        return replace(
            self,
            status=IntentStatus.SUCCEEDED,
            amount_capturable=0,
            amount_received=collected,
        ), ["payment_intent.succeeded", "charge.captured"]

    def cancel(self, reason: str | None = None) -> tuple[MockIntent, list[str]]:
        if self.status in (IntentStatus.SUCCEEDED, IntentStatus.CANCELED):
            raise _unexpected_state(self, "cancel")
        return replace(
            self,
            status=IntentStatus.CANCELED,
            amount_capturable=0,
            cancellation_reason=reason,
        ), ["payment_intent.canceled"]

    def refund(self, amount: int | None) -> tuple[MockIntent, int, list[str]]:
        if self.status is not IntentStatus.SUCCEEDED:
            raise _invalid(
                f"This PaymentIntent ({self.id}) does not have a successful charge to refund.",
                code="payment_intent_unexpected_state",
            )
        remaining = self.amount_received - self.amount_refunded
        if remaining <= 0:
            raise _invalid(
                f"Charge {self.charge_id} has already been refunded.",
                code="charge_already_refunded",
            )
        returned = remaining if amount is None else amount
        if returned > remaining:
            raise _invalid(
                f"Refund amount ({returned}) is greater than unrefunded amount on charge "
                f"({remaining}).",
                code="amount_too_large",
                param="amount",
            )
        return (
            replace(self, amount_refunded=self.amount_refunded + returned),
            returned,
            ["charge.refunded"],
        )


def intent_record(intent: MockIntent) -> dict[str, Any]:
    """The intent as plain JSON, for a store."""
    record = asdict(intent)
    record["status"] = intent.status.value
    record["capture_method"] = intent.capture_method.value
    record["metadata"] = dict(intent.metadata)
    record["last_payment_error"] = (
        dict(intent.last_payment_error) if intent.last_payment_error else None
    )
    return record


def intent_from_record(record: Mapping[str, Any]) -> MockIntent:
    return MockIntent(
        **{
            **record,
            "status": IntentStatus(record["status"]),
            "capture_method": CaptureMethod(record["capture_method"]),
        }
    )


def _unexpected_state(intent: MockIntent, action: str) -> MockStripeError:
    return _invalid(
        f"You cannot {action} this PaymentIntent because it has a status of {intent.status.value}.",
        code="payment_intent_unexpected_state",
        param=None,
    )


# ------------------------------------------------------------------------------ storage


@dataclass(frozen=True)
class RememberedAnswer:
    """The first answer given under an idempotency key (Stripe keeps them about 24 hours)."""

    fingerprint: str  # endpoint + parameters
    http_status: int
    body: dict[str, Any]  # the object, or {"error": {...}}


@dataclass(frozen=True)
class MockRefund:
    id: str
    payment_intent_id: str
    amount: int
    currency: str
    created: int
    status: str = "succeeded"

    def to_stripe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "currency": self.currency,
            "payment_intent": self.payment_intent_id,
            "status": self.status,
            "created": self.created,
        }


class StoreConflict(Exception):
    """A concurrent transaction won (the same idempotency key answered first, or a deadlock):
    the call runs again and replays the winner's answer, as the SDK retries Stripe's 409."""


class MockStoreTx(Protocol):
    async def get_intent(self, intent_id: str) -> MockIntent | None: ...
    async def find_intent(self, payment_id: str) -> MockIntent | None: ...
    async def put_intent(self, intent: MockIntent) -> None: ...
    async def put_refund(self, refund: MockRefund) -> None: ...
    async def get_answer(self, idempotency_key: str) -> RememberedAnswer | None: ...
    async def put_answer(self, idempotency_key: str, answer: RememberedAnswer) -> None:
        """Raises StoreConflict when another transaction stored an answer for the key."""
        ...

    async def emit(self, event: dict[str, Any]) -> None:
        """Queues a Stripe event for signed delivery (payments' outbox once wired)."""
        ...


class MockStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[MockStoreTx]:
        """All-or-nothing: intent, remembered answer and events are written together."""
        ...


class InMemoryMockStore:
    """The store for tests and until payments' tables hold the mock's intents.

    Transactions are serialised (one lock) and staged: nothing is visible unless the block ends
    without an exception."""

    def __init__(self) -> None:
        self.intents: dict[str, MockIntent] = {}
        self.refunds: dict[str, MockRefund] = {}
        self.answers: dict[str, RememberedAnswer] = {}
        self.events: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_InMemoryTx]:
        async with self._lock:
            tx = _InMemoryTx(self)
            yield tx
            self.intents.update(tx.intents)
            self.refunds.update(tx.refunds)
            self.answers.update(tx.answers)
            self.events.extend(tx.events)

    def take_events(self) -> list[dict[str, Any]]:
        """Removes and returns the events waiting for delivery, oldest first."""
        taken, self.events = self.events, []
        return taken


class _InMemoryTx:
    def __init__(self, store: InMemoryMockStore) -> None:
        self._store = store
        self.intents: dict[str, MockIntent] = {}
        self.refunds: dict[str, MockRefund] = {}
        self.answers: dict[str, RememberedAnswer] = {}
        self.events: list[dict[str, Any]] = []

    async def get_intent(self, intent_id: str) -> MockIntent | None:
        return self.intents.get(intent_id) or self._store.intents.get(intent_id)

    async def find_intent(self, payment_id: str) -> MockIntent | None:
        for intent in [*self.intents.values(), *self._store.intents.values()]:
            if intent.metadata.get("payment_id") == payment_id:
                return self.intents.get(intent.id, intent)
        return None

    async def put_intent(self, intent: MockIntent) -> None:
        self.intents[intent.id] = intent

    async def put_refund(self, refund: MockRefund) -> None:
        self.refunds[refund.id] = refund

    async def get_answer(self, idempotency_key: str) -> RememberedAnswer | None:
        return self.answers.get(idempotency_key) or self._store.answers.get(idempotency_key)

    async def put_answer(self, idempotency_key: str, answer: RememberedAnswer) -> None:
        self.answers[idempotency_key] = answer

    async def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)


# ------------------------------------------------------------------------------- faults


class FaultKind(StrEnum):
    LATENCY = "latency"  # the call takes `seconds` longer, then proceeds
    TIMEOUT_APPLIED = "timeout_applied"  # the provider did it, the answer was lost
    TIMEOUT_NOT_APPLIED = "timeout_not_applied"  # the request never arrived
    SERVER_ERROR = "server_error"  # a 5xx after the SDK's retries; nothing was done


OPERATIONS = frozenset({"create", "retrieve", "find", "capture", "cancel", "refund"})


@dataclass
class _Fault:
    kind: FaultKind
    operation: str | None
    remaining: int
    seconds: float


@dataclass
class FaultPlan:
    """Faults to inject, consumed in order by the operations they target."""

    _faults: list[_Fault] = field(default_factory=list)
    webhook_copies: int = 1  # >1: every event delivered that many times (same id and body)
    webhook_shuffle: random.Random | None = None  # deliveries in a random (seeded) order

    def inject(
        self,
        kind: FaultKind,
        operation: str | None = None,
        *,
        times: int = 1,
        seconds: float = 0.0,
    ) -> None:
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {sorted(OPERATIONS)}")
        self._faults.append(_Fault(kind, operation, times, seconds))

    def duplicate_webhooks(self, copies: int = 2) -> None:
        self.webhook_copies = copies

    def reorder_webhooks(self, seed: int = 0) -> None:
        self.webhook_shuffle = random.Random(seed)

    def clear(self) -> None:
        self._faults.clear()
        self.webhook_copies = 1
        self.webhook_shuffle = None

    def take(self, operation: str) -> list[_Fault]:
        """The faults that hit this call (at most one of each kind)."""
        hit: list[_Fault] = []
        for fault in self._faults:
            targets_this_call = fault.remaining > 0 and fault.operation in (None, operation)
            if targets_this_call and all(f.kind is not fault.kind for f in hit):
                fault.remaining -= 1
                hit.append(fault)
        self._faults = [f for f in self._faults if f.remaining > 0]
        return hit


# ------------------------------------------------------------------------------ webhooks


@dataclass(frozen=True)
class SignedWebhook:
    event_id: str
    event_type: str
    payload: bytes
    headers: dict[str, str]


def signed_webhook(event: Mapping[str, Any], secret: str, timestamp: int) -> SignedWebhook:
    payload = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    return SignedWebhook(
        event_id=str(event["id"]),
        event_type=str(event["type"]),
        payload=payload,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign_payload(payload, secret, timestamp),
        },
    )


# ------------------------------------------------------------------------------ provider


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _fingerprint(endpoint: str, params: Mapping[str, Any]) -> str:
    body = json.dumps({"endpoint": endpoint, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class MockProvider:
    """The port (`providers.PaymentProvider`) with Stripe's behaviour and no network."""

    name = "mock"

    def __init__(
        self,
        store: MockStore | None = None,
        *,
        webhook_secret: str,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        new_id: Callable[[str], str] = _new_id,
        enabled_events: Collection[str] | None = None,
    ) -> None:
        self.store = store if store is not None else InMemoryMockStore()
        # Like a Stripe webhook endpoint's `enabled_events`: None is Stripe's "*" (every event).
        self.enabled_events = frozenset(enabled_events) if enabled_events is not None else None
        self.webhook_secret = webhook_secret
        self.faults = FaultPlan()
        self._now = now
        self._sleep = sleep
        self._new_id = new_id

    async def aclose(self) -> None:
        return None

    # ---- the port

    async def create_intent(
        self, request: IntentRequest, *, idempotency_key: str
    ) -> IntentSnapshot:
        params = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "payment_method": request.payment_method,
            "capture_method": request.capture_method.value,
            "metadata": request.provider_metadata(),
            "confirm": True,
        }

        async def create(tx: MockStoreTx) -> tuple[int, dict[str, Any]]:
            card = self._validate_create(request)
            intent = MockIntent(
                id=self._new_id("pi"),
                charge_id=self._new_id("ch"),
                client_secret="",
                amount=request.amount_minor,
                currency=request.currency.lower(),
                capture_method=request.capture_method,
                payment_method=request.payment_method,
                metadata=request.provider_metadata(),
                created=int(self._now()),
            )
            intent = replace(intent, client_secret=f"{intent.id}_secret_{uuid.uuid4().hex[:16]}")
            await self._emit(tx, "payment_intent.created", intent.to_stripe())
            confirmed, events = intent.confirm(card)
            await self._save(tx, confirmed, events)
            if confirmed.status is IntentStatus.REQUIRES_PAYMENT_METHOD:
                # Stripe's 402 names the failed intent.
                error = {
                    **(confirmed.last_payment_error or {}),
                    "payment_intent": confirmed.to_stripe(),
                }
                raise MockStripeError(402, error)
            return 200, confirmed.to_stripe()

        status, body = await self._call(
            "create", "POST /v1/payment_intents", params, idempotency_key, create
        )
        return self._answer(status, body)

    async def retrieve_intent(self, intent_id: str) -> IntentSnapshot:
        await self._read_faults("retrieve")
        async with self.store.transaction() as tx:
            intent = await self._intent(tx, intent_id)
        return intent_snapshot(intent.to_stripe())

    async def find_intent(self, payment_id: str) -> IntentSnapshot | None:
        await self._read_faults("find")
        async with self.store.transaction() as tx:
            intent = await tx.find_intent(payment_id)
        return intent_snapshot(intent.to_stripe()) if intent else None

    async def capture_intent(
        self, intent_id: str, *, idempotency_key: str, amount_minor: int | None = None
    ) -> IntentSnapshot:
        params = {"amount_to_capture": amount_minor}

        async def capture(tx: MockStoreTx) -> tuple[int, dict[str, Any]]:
            if amount_minor is not None:
                self._check_amount(amount_minor, "amount_to_capture")
            intent, events = (await self._intent(tx, intent_id)).capture(amount_minor)
            await self._save(tx, intent, events)
            return 200, intent.to_stripe()

        endpoint = f"POST /v1/payment_intents/{intent_id}/capture"
        status, body = await self._call("capture", endpoint, params, idempotency_key, capture)
        return self._answer(status, body)

    async def cancel_intent(self, intent_id: str, *, idempotency_key: str) -> IntentSnapshot:
        async def cancel(tx: MockStoreTx) -> tuple[int, dict[str, Any]]:
            intent, events = (await self._intent(tx, intent_id)).cancel()
            await self._save(tx, intent, events)
            return 200, intent.to_stripe()

        endpoint = f"POST /v1/payment_intents/{intent_id}/cancel"
        status, body = await self._call("cancel", endpoint, {}, idempotency_key, cancel)
        return self._answer(status, body)

    async def refund_intent(
        self, intent_id: str, *, idempotency_key: str, amount_minor: int | None = None
    ) -> RefundSnapshot:
        params = {"payment_intent": intent_id, "amount": amount_minor}

        async def refund(tx: MockStoreTx) -> tuple[int, dict[str, Any]]:
            if amount_minor is not None:
                self._check_amount(amount_minor, "amount")
            intent, returned, events = (await self._intent(tx, intent_id)).refund(amount_minor)
            record = MockRefund(
                id=self._new_id("re"),
                payment_intent_id=intent.id,
                amount=returned,
                currency=intent.currency,
                created=int(self._now()),
            )
            await tx.put_refund(record)
            await tx.put_intent(intent)
            for event_type in events:  # charge.refunded carries the charge, like Stripe's
                await self._emit(tx, event_type, intent.charge_to_stripe())
            return 200, record.to_stripe()

        status, body = await self._call(
            "refund", "POST /v1/refunds", params, idempotency_key, refund
        )
        if status != 200:
            raise provider_error(status, body["error"])
        return RefundSnapshot(
            id=body["id"],
            payment_intent_id=body["payment_intent"],
            amount_minor=int(body["amount"]),
            currency=str(body["currency"]).upper(),
            status=body["status"],
        )

    # ---- what Stripe (not our API) does

    async def complete_authentication(
        self, intent_id: str, *, client_secret: str, success: bool
    ) -> IntentSnapshot:
        """The customer passed (or failed) the 3-D Secure challenge: what Stripe.js reports."""
        async with self.store.transaction() as tx:
            try:
                intent = await self._intent(tx, intent_id)
                if client_secret != intent.client_secret:
                    raise _invalid("Invalid client_secret.", code="unauthorized", status=401)
                intent, events = intent.authenticate(success)
            except MockStripeError as exc:
                raise provider_error(exc.http_status, exc.error) from exc
            await self._save(tx, intent, events)
        return intent_snapshot(intent.to_stripe())

    async def expire_authorization(self, intent_id: str) -> IntentSnapshot:
        """Stripe cancels an uncaptured intent after about 7 days."""
        async with self.store.transaction() as tx:
            intent = await self._intent(tx, intent_id)
            if intent.status is not IntentStatus.REQUIRES_CAPTURE:
                raise InvalidProviderRequest("only an authorization expires", code="unexpected")
            intent, events = intent.cancel("automatic")
            await self._save(tx, intent, events)
        return intent_snapshot(intent.to_stripe())

    def signed_webhooks(self, events: list[dict[str, Any]]) -> list[SignedWebhook]:
        """Events as Stripe delivers them: signed now, with the duplicates and disorder asked
        for by `faults` (delivery is at least once and unordered)."""
        deliveries = [event for event in events for _ in range(self.faults.webhook_copies)]
        if self.faults.webhook_shuffle is not None:
            self.faults.webhook_shuffle.shuffle(deliveries)
        timestamp = int(self._now())
        return [signed_webhook(event, self.webhook_secret, timestamp) for event in deliveries]

    # ---- internals

    async def _before(self, operation: str) -> list[FaultKind]:
        kinds = []
        for fault in self.faults.take(operation):
            if fault.kind is FaultKind.LATENCY:
                await self._sleep(fault.seconds)
            elif fault.kind in (FaultKind.TIMEOUT_NOT_APPLIED, FaultKind.SERVER_ERROR):
                raise UnknownOutcome(
                    f"mock {operation}: {fault.kind.value} (not applied)", code=fault.kind.value
                )
            kinds.append(fault.kind)
        return kinds

    async def _read_faults(self, operation: str) -> None:
        """A read changes nothing, so a lost answer is just a timeout."""
        if FaultKind.TIMEOUT_APPLIED in await self._before(operation):
            raise UnknownOutcome(f"mock {operation}: timeout", code="timeout")

    async def _call(
        self,
        operation: str,
        endpoint: str,
        params: dict[str, Any],
        idempotency_key: str,
        execute: Callable[[MockStoreTx], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> tuple[int, dict[str, Any]]:
        if not idempotency_key or len(idempotency_key) > 255:
            raise InvalidProviderRequest(
                "An idempotency key of 1 to 255 characters is required.",
                code="idempotency_key_invalid",
                param="idempotency_key",
            )
        faults = await self._before(operation)
        fingerprint = _fingerprint(endpoint, params)
        for _ in range(CONFLICT_ATTEMPTS):
            try:
                status, body = await self._once(idempotency_key, fingerprint, execute)
                break
            except StoreConflict:
                continue
        else:
            raise UnknownOutcome(
                f"mock {operation}: a concurrent request with this key kept winning",
                code="idempotency_conflict",
            )
        if FaultKind.TIMEOUT_APPLIED in faults:
            raise UnknownOutcome(f"mock {operation}: timeout (applied)", code="timeout_applied")
        return status, body

    async def _once(
        self,
        idempotency_key: str,
        fingerprint: str,
        execute: Callable[[MockStoreTx], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> tuple[int, dict[str, Any]]:
        async with self.store.transaction() as tx:
            remembered = await tx.get_answer(idempotency_key)
            if remembered is not None:
                if remembered.fingerprint != fingerprint:
                    raise IdempotencyKeyReused(
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                        code="idempotency_key_in_use",
                    )
                return remembered.http_status, remembered.body
            try:
                status, body = await execute(tx)
            except MockStripeError as exc:
                if not exc.remembered:
                    raise provider_error(exc.http_status, exc.error) from exc
                status, body = exc.http_status, {"error": exc.error}
            await tx.put_answer(idempotency_key, RememberedAnswer(fingerprint, status, body))
            return status, body

    def _answer(self, status: int, body: dict[str, Any]) -> IntentSnapshot:
        if status != 200:
            raise provider_error(status, body["error"])
        return intent_snapshot(body)

    async def _intent(self, tx: MockStoreTx, intent_id: str) -> MockIntent:
        intent = await tx.get_intent(intent_id)
        if intent is None:
            raise provider_error(
                404,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "intent",
                    "message": f"No such payment_intent: '{intent_id}'",
                },
            )
        return intent

    async def _save(self, tx: MockStoreTx, intent: MockIntent, events: list[str]) -> None:
        await tx.put_intent(intent)
        for event_type in events:
            await self._emit(tx, event_type, intent.to_stripe())

    async def _emit(self, tx: MockStoreTx, event_type: str, obj: dict[str, Any]) -> None:
        if self.enabled_events is not None and event_type not in self.enabled_events:
            return  # Stripe sends an endpoint only the events it subscribed to
        await tx.emit(
            {
                "id": self._new_id("evt"),
                "object": "event",
                "type": event_type,
                "created": int(self._now()),
                "livemode": False,
                "api_version": "2025-01-27.acacia",
                "data": {"object": obj},
            }
        )

    def _validate_create(self, request: IntentRequest) -> CardBehaviour:
        self._check_amount(request.amount_minor, "amount")
        currency = request.currency
        if len(currency) != 3 or not currency.isalpha():
            raise _invalid(
                f"Invalid currency: {currency}.",
                code="parameter_invalid_string",
                param="currency",
                remembered=False,
            )
        card = TEST_PAYMENT_METHODS.get(request.payment_method)
        if card is None:
            raise _invalid(
                f"No such PaymentMethod: '{request.payment_method}'",
                code="resource_missing",
                param="payment_method",
                remembered=False,
            )
        return card

    @staticmethod
    def _check_amount(amount: int, param: str) -> None:
        if isinstance(amount, bool) or not isinstance(amount, int) or not amount > 0:
            raise _invalid(
                "Invalid positive integer.",
                code="parameter_invalid_integer",
                param=param,
                remembered=False,
            )
        if amount > MAX_AMOUNT_MINOR:
            raise _invalid(
                f"Amount must be no more than {MAX_AMOUNT_MINOR}.",
                code="amount_too_large",
                param=param,
                remembered=False,
            )
