"""Pure payment rules: no I/O.

A payment is our record of one money movement attempt for an order. It moves only through the
named transitions below; each one yields a `PaymentEvent` for the `payment_events` ledger, so the
ledger replays to the payment (`replay`).

    pending ──require_action──▶ requires_action
    pending | requires_action ──authorize──▶ authorized ──capture──▶ captured
    pending | requires_action ──charge (automatic capture)──▶ captured
    captured | partially_refunded ──refund──▶ partially_refunded | refunded
    authorized ──void──▶ voided
    pending | requires_action ──fail──▶ failed

Stripe never fails an intent once it holds funds (`requires_capture` only goes to `succeeded` or
`canceled`), so `authorized` cannot fail: it is captured or voided (an expired authorization is
cancelled by Stripe, which is a void). Money that was captured comes back only through refunds.

`reconcile` brings a payment to the provider's current truth (a retrieved PaymentIntent) through
the same transitions, so a missed, duplicated or reordered webhook or an unknown outcome is
resolved by one rule: act on the intent's current state, never on the order of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple, Protocol

from vanity_common.domain import DomainError, InvalidInput

MAX_ID_LENGTH = 36
MAX_FAILURE_REASON_LENGTH = 128
MAX_AMOUNT_MINOR = 99_999_999  # Stripe's largest charge (8 digits)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    VOIDED = "voided"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


# No transition leaves these.
FINAL_STATUSES = frozenset({PaymentStatus.FAILED, PaymentStatus.VOIDED, PaymentStatus.REFUNDED})
# Money has not moved yet: the provider may still authorize, charge or fail the intent.
OPEN_STATUSES = frozenset({PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION})
# Money was collected: only refunds change it.
CAPTURED_STATUSES = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED})
MONEY_MOVED_STATUSES = CAPTURED_STATUSES | {PaymentStatus.REFUNDED}
UNCAPTURED_STATUSES = OPEN_STATUSES | {PaymentStatus.AUTHORIZED}


class Transition(StrEnum):
    REQUIRE_ACTION = "require_action"
    AUTHORIZE = "authorize"
    CHARGE = "charge"
    CAPTURE = "capture"
    VOID = "void"
    FAIL = "fail"
    REFUND = "refund"


# Which statuses each transition may start from.
SOURCES: dict[Transition, frozenset[PaymentStatus]] = {
    Transition.REQUIRE_ACTION: frozenset({PaymentStatus.PENDING}),
    Transition.AUTHORIZE: OPEN_STATUSES,
    Transition.CHARGE: OPEN_STATUSES,
    Transition.CAPTURE: frozenset({PaymentStatus.AUTHORIZED}),
    Transition.VOID: frozenset({PaymentStatus.AUTHORIZED}),
    Transition.FAIL: OPEN_STATUSES,
    Transition.REFUND: CAPTURED_STATUSES,
}


class ProviderStep(StrEnum):
    """A business step that calls the provider; each has its own idempotency key."""

    AUTHORIZE = "authorize"  # create + confirm the intent (manual or automatic capture)
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


# ------------------------------------------------------------------------------------ errors


class IllegalTransition(DomainError):
    reason = "ILLEGAL_TRANSITION"

    def __init__(self, transition: Transition, status: PaymentStatus, message: str = "") -> None:
        super().__init__(
            message or f"Cannot {transition.value} a payment that is {status.value}.",
            transition=transition.value,
            status=status.value,
        )
        self.transition = transition
        self.status = status


class PaymentAlreadyCaptured(IllegalTransition):
    """Void after capture: the hold is gone, the money moved; refund instead."""

    reason = "PAYMENT_CAPTURED"


class PaymentNotCaptured(IllegalTransition):
    """Refund before capture: nothing was collected; void the authorization instead."""

    reason = "PAYMENT_NOT_CAPTURED"


class RefundExceedsCaptured(DomainError):
    reason = "REFUND_EXCEEDS_CAPTURED"


class CaptureExceedsAuthorized(DomainError):
    reason = "CAPTURE_EXCEEDS_AUTHORIZED"


# ------------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class Payment:
    id: str
    order_id: str
    status: PaymentStatus
    amount_minor: int  # asked for (and authorized)
    refunded_minor: int
    currency: str
    provider: str
    provider_reference: str | None = None  # the PaymentIntent id
    failure_reason: str | None = None
    captured_minor: int = 0  # collected; a partial capture collects less than amount_minor
    client_secret: str | None = None  # lets the customer finish 3-D Secure

    @property
    def refundable_minor(self) -> int:
        return self.captured_minor - self.refunded_minor

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class Cause:
    """Who asked for a transition and why; `provider_event_id` when a webhook reported it."""

    actor: str  # e.g. "api", "webhook", "reconciliation", "admin:<user id>"
    reason: str = ""
    provider_event_id: str | None = None


@dataclass(frozen=True)
class PaymentEvent:
    """One row of the `payment_events` ledger."""

    payment_id: str
    transition: Transition
    from_status: PaymentStatus
    to_status: PaymentStatus
    amount_minor: int  # money this step held, collected, released or returned (0: none)
    actor: str
    reason: str
    provider_event_id: str | None = None
    failure_reason: str | None = None


class Step(NamedTuple):
    payment: Payment
    event: PaymentEvent


# ------------------------------------------------------------------------------ construction


def new_payment(
    *,
    payment_id: str,
    order_id: str,
    amount_minor: int,
    currency: str,
    provider: str,
) -> Payment:
    """A pending payment, validated; the provider is called only after it is stored."""
    if not payment_id or len(payment_id) > MAX_ID_LENGTH:
        raise InvalidInput("payment_id", f"must be 1 to {MAX_ID_LENGTH} characters")
    if not order_id or len(order_id) > MAX_ID_LENGTH:
        raise InvalidInput("order_id", f"must be 1 to {MAX_ID_LENGTH} characters")
    _check_amount("amount.amount_minor", amount_minor)
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise InvalidInput("amount.currency", "must be an ISO 4217 code such as EUR")
    return Payment(
        id=payment_id,
        order_id=order_id,
        status=PaymentStatus.PENDING,
        amount_minor=amount_minor,
        refunded_minor=0,
        currency=currency,
        provider=provider,
    )


def provider_idempotency_key(step: ProviderStep, payment_id: str, discriminator: str = "") -> str:
    """Deterministic per business step, so a retry after a crash reuses it and the provider replays
    its first answer. Refunds add the caller's key: two refunds of one payment are two steps."""
    key = f"payment:{payment_id}:{step.value}"
    return f"{key}:{discriminator}" if discriminator else key


def _check_amount(field_name: str, amount_minor: int) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidInput(field_name, "must be an integer number of minor units")
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise InvalidInput(field_name, f"must be between 1 and {MAX_AMOUNT_MINOR}")


# ------------------------------------------------------------------------------- transitions


def _guard(payment: Payment, transition: Transition) -> None:
    if payment.status not in SOURCES[transition]:
        if transition is Transition.VOID and payment.status in MONEY_MOVED_STATUSES:
            raise PaymentAlreadyCaptured(
                transition,
                payment.status,
                "The payment was captured; refund it instead of voiding.",
            )
        if transition is Transition.REFUND and payment.status in UNCAPTURED_STATUSES:
            raise PaymentNotCaptured(
                transition,
                payment.status,
                "Nothing was captured; void the authorization instead of refunding.",
            )
        raise IllegalTransition(transition, payment.status)


def _step(
    payment: Payment,
    transition: Transition,
    cause: Cause,
    amount_minor: int,
    **changes,
) -> Step:
    after = replace(payment, **changes)
    return Step(
        after,
        PaymentEvent(
            payment_id=payment.id,
            transition=transition,
            from_status=payment.status,
            to_status=after.status,
            amount_minor=amount_minor,
            actor=cause.actor,
            reason=cause.reason,
            provider_event_id=cause.provider_event_id,
            failure_reason=after.failure_reason if transition is Transition.FAIL else None,
        ),
    )


def require_action(payment: Payment, cause: Cause, client_secret: str | None = None) -> Step:
    """The customer must authenticate (3-D Secure) before the provider authorizes."""
    _guard(payment, Transition.REQUIRE_ACTION)
    return _step(
        payment,
        Transition.REQUIRE_ACTION,
        cause,
        0,
        status=PaymentStatus.REQUIRES_ACTION,
        client_secret=client_secret or payment.client_secret,
    )


def authorize(payment: Payment, cause: Cause) -> Step:
    """Funds are held (manual capture): the provider's `requires_capture`."""
    _guard(payment, Transition.AUTHORIZE)
    return _step(
        payment, Transition.AUTHORIZE, cause, payment.amount_minor, status=PaymentStatus.AUTHORIZED
    )


def charge(payment: Payment, cause: Cause, amount_minor: int | None = None) -> Step:
    """Authorized and captured at once (automatic capture): the provider's `succeeded`."""
    _guard(payment, Transition.CHARGE)
    collected = payment.amount_minor if amount_minor is None else amount_minor
    _check_amount("amount_minor", collected)
    if collected > payment.amount_minor:
        raise CaptureExceedsAuthorized(
            f"Cannot collect {collected}; the payment is for {payment.amount_minor}."
        )
    return _step(
        payment,
        Transition.CHARGE,
        cause,
        collected,
        status=PaymentStatus.CAPTURED,
        captured_minor=collected,
    )


def capture(payment: Payment, cause: Cause, amount_minor: int | None = None) -> Step:
    """Collects all (None) or part of an authorization; the rest of the hold is released."""
    _guard(payment, Transition.CAPTURE)
    collected = payment.amount_minor if amount_minor is None else amount_minor
    _check_amount("amount_minor", collected)
    if collected > payment.amount_minor:
        raise CaptureExceedsAuthorized(
            f"Cannot capture {collected}; {payment.amount_minor} is authorized."
        )
    return _step(
        payment,
        Transition.CAPTURE,
        cause,
        collected,
        status=PaymentStatus.CAPTURED,
        captured_minor=collected,
    )


def void(payment: Payment, cause: Cause) -> Step:
    """Releases an uncaptured authorization (cancel of a `requires_capture` intent)."""
    _guard(payment, Transition.VOID)
    return _step(payment, Transition.VOID, cause, payment.amount_minor, status=PaymentStatus.VOIDED)


def fail(payment: Payment, cause: Cause, failure_reason: str) -> Step:
    """A definite failure before any money was held: declined, authentication failed, cancelled."""
    _guard(payment, Transition.FAIL)
    reason = (failure_reason or "failed")[:MAX_FAILURE_REASON_LENGTH]
    return _step(
        payment,
        Transition.FAIL,
        cause,
        0,
        status=PaymentStatus.FAILED,
        failure_reason=reason,
    )


def refund(payment: Payment, cause: Cause, amount_minor: int | None = None) -> Step:
    """Returns all (None) or part of the captured remainder; never more than it."""
    _guard(payment, Transition.REFUND)
    remainder = payment.refundable_minor
    returned = remainder if amount_minor is None else amount_minor
    _check_amount("amount.amount_minor", returned)
    if returned > remainder:
        raise RefundExceedsCaptured(
            f"Cannot refund {returned}; {remainder} of {payment.captured_minor} captured remains.",
            remainder_minor=remainder,
        )
    refunded = payment.refunded_minor + returned
    status = (
        PaymentStatus.REFUNDED
        if refunded == payment.captured_minor
        else PaymentStatus.PARTIALLY_REFUNDED
    )
    return _step(
        payment, Transition.REFUND, cause, returned, status=status, refunded_minor=refunded
    )


def replay(initial: Payment, events: Iterable[PaymentEvent]) -> Payment:
    """Folds a payment's ledger onto its initial (pending) record: the ledger is complete."""
    payment = initial
    for event in events:
        if event.from_status != payment.status:
            raise ValueError(f"ledger gap: {event.from_status} recorded, {payment.status} held")
        changes: dict = {"status": event.to_status}
        if event.transition in (Transition.CAPTURE, Transition.CHARGE):
            changes["captured_minor"] = event.amount_minor
        elif event.transition is Transition.REFUND:
            changes["refunded_minor"] = payment.refunded_minor + event.amount_minor
        elif event.transition is Transition.FAIL:
            changes["failure_reason"] = event.failure_reason
        payment = replace(payment, **changes)
    return payment


# ----------------------------------------------------------------- the provider's current truth


class IntentStatus(StrEnum):
    """Stripe's PaymentIntent statuses."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class IntentTruth(Protocol):
    """What `reconcile` needs from a retrieved intent (providers.IntentSnapshot has it)."""

    @property
    def status(self) -> IntentStatus: ...
    @property
    def amount_received_minor(self) -> int: ...
    @property
    def amount_refunded_minor(self) -> int: ...
    @property
    def last_error_code(self) -> str | None: ...
    @property
    def decline_code(self) -> str | None: ...
    @property
    def client_secret(self) -> str | None: ...
    @property
    def capture_method(self) -> str: ...  # "manual" or "automatic"
    @property
    def was_authorized(self) -> bool:
        """The intent held funds at some point (its charge was authorized)."""
        ...


def failure_reason_of(truth: IntentTruth) -> str:
    """The most specific reason: the issuer's decline code, else the error code."""
    if truth.decline_code or truth.last_error_code:
        return truth.decline_code or truth.last_error_code or ""
    return "canceled" if IntentStatus(truth.status) is IntentStatus.CANCELED else "failed"


def status_from_intent(
    truth: IntentTruth, current: PaymentStatus = PaymentStatus.PENDING
) -> PaymentStatus:
    """The status a payment should have given its intent's current state.

    A cancelled intent is a released authorization (voided) when it held funds (or we knew it
    was authorized), else a payment that never went through (failed)."""
    status = IntentStatus(truth.status)
    if status is IntentStatus.REQUIRES_PAYMENT_METHOD:
        # After a confirmation, this status means the attempt failed (declined or 3-D Secure
        # failed); Stripe keeps the reason in last_payment_error.
        return PaymentStatus.FAILED if truth.last_error_code else PaymentStatus.PENDING
    if status in (IntentStatus.REQUIRES_CONFIRMATION, IntentStatus.PROCESSING):
        return PaymentStatus.PENDING
    if status is IntentStatus.REQUIRES_ACTION:
        return PaymentStatus.REQUIRES_ACTION
    if status is IntentStatus.REQUIRES_CAPTURE:
        return PaymentStatus.AUTHORIZED
    if status is IntentStatus.CANCELED:
        held = truth.was_authorized or current in (PaymentStatus.AUTHORIZED, PaymentStatus.VOIDED)
        return PaymentStatus.VOIDED if held else PaymentStatus.FAILED
    received, refunded = truth.amount_received_minor, truth.amount_refunded_minor
    if refunded <= 0:
        return PaymentStatus.CAPTURED
    return PaymentStatus.REFUNDED if refunded >= received else PaymentStatus.PARTIALLY_REFUNDED


@dataclass(frozen=True)
class Reconciliation:
    payment: Payment
    events: tuple[PaymentEvent, ...]
    # Set when the truth cannot be reached through transitions (e.g. money collected on a payment
    # we recorded as failed): report it, a person or a compensating refund must act.
    mismatch: str | None = None


def reconcile(payment: Payment, truth: IntentTruth, cause: Cause) -> Reconciliation:
    """The transitions that bring `payment` to the intent's current truth (none when it is
    already there, so duplicated or late webhooks change nothing). With a mismatch, `events`
    holds the transitions that were still possible (store them) and the rest needs a person."""
    target = status_from_intent(truth, payment.status)
    events: list[PaymentEvent] = []
    current = payment

    def apply(step: Step) -> None:
        nonlocal current
        current = step.payment
        events.append(step.event)

    def mismatch(why: str) -> Reconciliation:
        return Reconciliation(current, tuple(events), f"{payment.status.value} locally, {why}")

    if current.is_final:
        consistent = target == current.status or (
            current.status is PaymentStatus.FAILED and target is PaymentStatus.PENDING
        )
        if current.status is PaymentStatus.REFUNDED and target is PaymentStatus.REFUNDED:
            consistent = truth.amount_refunded_minor == current.refunded_minor
        if consistent:
            return Reconciliation(current, ())
        return mismatch(f"the intent is {truth.status} ({target.value})")

    if target is PaymentStatus.PENDING:
        if current.status in OPEN_STATUSES:
            return Reconciliation(current, ())  # e.g. `processing` after 3-D Secure
        return mismatch(f"the intent is {truth.status}")

    if target is PaymentStatus.REQUIRES_ACTION:
        if current.status is PaymentStatus.PENDING:
            apply(require_action(current, cause, truth.client_secret))
            return Reconciliation(current, tuple(events))
        if current.status is PaymentStatus.REQUIRES_ACTION:
            return Reconciliation(current, ())
        return mismatch("the intent requires action")

    if target is PaymentStatus.AUTHORIZED:
        if current.status in OPEN_STATUSES:
            apply(authorize(current, cause))
            return Reconciliation(current, tuple(events))
        if current.status is PaymentStatus.AUTHORIZED:
            return Reconciliation(current, ())
        return mismatch("the intent is only authorized")

    if target is PaymentStatus.FAILED:
        if current.status in OPEN_STATUSES:
            apply(fail(current, cause, failure_reason_of(truth)))
            return Reconciliation(current, tuple(events))
        return mismatch(f"the intent is {truth.status}")

    if target is PaymentStatus.VOIDED:
        if current.status in OPEN_STATUSES:  # we missed the authorization
            apply(authorize(current, cause))
        apply(void(current, cause))
        return Reconciliation(current, tuple(events))

    # Money was collected: captured, partially refunded or refunded.
    received = truth.amount_received_minor
    if received <= 0 or received > current.amount_minor:
        return mismatch(f"the intent collected {received} of {current.amount_minor}")
    if current.status in OPEN_STATUSES and truth.capture_method == "manual":
        apply(authorize(current, cause))  # we missed the authorization: the ledger shows it
    if current.status in OPEN_STATUSES:
        apply(charge(current, cause, received))
    elif current.status is PaymentStatus.AUTHORIZED:
        apply(capture(current, cause, received))
    elif current.captured_minor != received:
        return mismatch(f"the intent collected {received}, we recorded {current.captured_minor}")
    missing_refund = truth.amount_refunded_minor - current.refunded_minor
    if missing_refund < 0:
        return mismatch(
            f"the intent refunded {truth.amount_refunded_minor}, we recorded "
            f"{current.refunded_minor}"
        )
    if missing_refund > 0:
        if missing_refund > current.refundable_minor:
            return mismatch(f"the intent refunded more than the {received} collected")
        apply(refund(current, cause, missing_refund))
    return Reconciliation(current, tuple(events))
