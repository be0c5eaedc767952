"""Payment use cases: commands in, `Payment` views out, one unit of work per database step.

No database transaction is ever held across a provider call. Each use case stores what it is
about to ask (a `pending` payment, a `requested` refund) and commits, calls the provider with a
deterministic idempotency key (`domain.provider_idempotency_key`), then brings the payment to
the provider's answer with `domain.reconcile` under a row lock. So:

- a retry (or a crash and a retry) re-sends the stored request under the same key: the
  provider replays its first answer, and never a second intent or refund is created;
- an unknown outcome (timeout, 5xx) leaves the payment `pending`; a retry, a webhook or the
  reconciliation job resolves it by retrieving the intent (or finding it by our payment id);
- webhooks and reconciliation act on the intent's current state (retrieved), so duplicated,
  reordered or late events change nothing, and what they changed is reported to checkout
  through the outbox (`OUTCOME_TOPIC`), in the same transaction as the change.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import grpc
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import IntegrityError
from vanity_common import cursor as chassis_cursor
from vanity_common.clock import Clock, utcnow
from vanity_common.db import Database
from vanity_common.errors import (
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ServiceError,
    Unavailable,
)
from vanity_common.uow import UnitOfWork

from vanity_payments import domain, repository
from vanity_payments.domain import (
    CAPTURED_STATUSES,
    OPEN_STATUSES,
    Cause,
    DomainError,
    IntentTruth,
    InvalidInput,
    Payment,
    PaymentStatus,
    ProviderStep,
    Reconciliation,
    RefundExceedsCaptured,
    provider_idempotency_key,
)
from vanity_payments.ports import CLOSED_ORDER_STATUSES, PaymentOutcome
from vanity_payments.providers import (
    CaptureMethod,
    IdempotencyKeyReused,
    IntentNotFound,
    IntentRequest,
    IntentSnapshot,
    InvalidProviderRequest,
    PaymentDeclined,
    PaymentProvider,
    ProviderMisconfigured,
    UnknownOutcome,
)
from vanity_payments.providers.webhooks import (
    INTENT_EVENT_TYPES,
    SIGNATURE_HEADER,
    WebhookSignatureInvalid,
    verify_webhook,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Outbox topic: a payment outcome checkout must hear about (CheckoutService.ReportPaymentOutcome).
OUTCOME_TOPIC = "payments.payment_outcome"
# Consumer name under which processed webhook event ids are recorded (dedupe).
WEBHOOK_CONSUMER = "payments.stripe_webhook"

MISMATCHES = Counter(
    "vanity_payments_reconciliation_mismatches_total",
    "Payments whose provider truth cannot be reached through transitions (a person must act)",
    ["source"],
)
RECONCILED = Counter(
    "vanity_payments_reconciled_total",
    "Payments whose local state the reconciliation job changed, by resulting status",
    ["status"],
)
WEBHOOKS = Counter(
    "vanity_payments_webhooks_total",
    "Stripe webhook deliveries by event type and result (processed, duplicate, ignored, "
    "bad_signature)",
    ["type", "result"],
)
WEBHOOK_LAG = Histogram(
    "vanity_payments_webhook_lag_seconds",
    "From the event's creation at the provider to its processing here",
    buckets=(0.1, 0.5, 1, 2.5, 5, 15, 60, 300, 900, 3600),
)
PROVIDER_OPERATIONS = Counter(
    "vanity_payments_operations_total",
    "Money-moving calls to the provider by operation (authorize, capture, void, refund) and "
    "result: ok, declined (the card said no), refused (an invalid request), error (a timeout "
    "or 5xx, whose outcome reconciliation learns later, or another failure)",
    ["operation", "result"],
)
ORPHANS_VOIDED = Counter(
    "vanity_payments_orphan_authorizations_voided_total",
    "Authorizations voided because their order no longer exists",
)

# Outcomes checkout is told about (refunds have no outcome in its contract yet).
_OUTCOME_OF = {
    PaymentStatus.AUTHORIZED: PaymentOutcome.SUCCEEDED,
    PaymentStatus.CAPTURED: PaymentOutcome.SUCCEEDED,
    PaymentStatus.FAILED: PaymentOutcome.FAILED,
    PaymentStatus.VOIDED: PaymentOutcome.FAILED,
}

MAX_KEY_LENGTH = 128
MAX_USER_ID_LENGTH = 64
MAX_PAYMENT_METHOD_LENGTH = 64
MAX_REASON_LENGTH = 255
NOT_SENT_REASON = "not_sent_to_provider"


# ------------------------------------------------------------------------------ commands


@dataclass(frozen=True)
class ChargeCommand:
    idempotency_key: str
    order_id: str
    user_id: str
    amount_minor: int
    currency: str
    payment_method: str
    capture: bool = False


@dataclass(frozen=True)
class RefundCommand:
    payment_id: str
    idempotency_key: str
    amount_minor: int | None  # None: the whole captured remainder
    actor: str
    reason: str = ""
    currency: str | None = None  # when given, must be the payment's


@dataclass(frozen=True)
class PaymentPage:
    items: list[repository.PaymentRow]
    next_cursor: str | None


@dataclass(frozen=True)
class PaymentDetail:
    row: repository.PaymentRow
    ledger: list[repository.LedgerEntry]


async def _counted(operation: str, call: Awaitable[T]) -> T:
    """A provider call, counted by its result (vanity_payments_operations_total)."""
    try:
        answer = await call
    except PaymentDeclined:
        PROVIDER_OPERATIONS.labels(operation, "declined").inc()
        raise
    except InvalidProviderRequest:
        PROVIDER_OPERATIONS.labels(operation, "refused").inc()
        raise
    except Exception:
        PROVIDER_OPERATIONS.labels(operation, "error").inc()
        raise
    PROVIDER_OPERATIONS.labels(operation, "ok").inc()
    return answer


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    outcome: str  # processed | duplicate | ignored
    payment: Payment | None = None
    mismatch: str | None = None


@dataclass
class ReconciliationReport:
    checked: int = 0
    changed: int = 0
    mismatches: int = 0
    orphans_voided: int = 0
    errors: int = 0
    details: list[str] = field(default_factory=list)


class CheckoutOrders:
    """What reconciliation needs from checkout (`ports.CheckoutPort` has it; tests fake it)."""

    async def order(self, order_id: str): ...


# ------------------------------------------------------------------------------- errors


def service_error(exc: DomainError) -> ServiceError:
    """A broken rule as the chassis' error model (REST problem, gRPC status + reason)."""
    if isinstance(exc, InvalidInput):
        return InvalidArgument(str(exc), errors=[FieldError(exc.field, str(exc))])
    if isinstance(exc, RefundExceedsCaptured):
        # 422 on REST naming the field; FAILED_PRECONDITION on gRPC as the contract says.
        return ServiceError(
            message=str(exc),
            reason=exc.reason,
            errors=[FieldError("amount_minor", str(exc))],
            http_status=422,
            grpc_code=grpc.StatusCode.FAILED_PRECONDITION,
        )
    return FailedPrecondition(str(exc), reason=exc.reason)


def _bad_signature(message: str, missing: bool) -> ServiceError:
    return ServiceError(
        message=message,
        reason="WEBHOOK_SIGNATURE_MISSING" if missing else "WEBHOOK_SIGNATURE_INVALID",
        errors=[FieldError(SIGNATURE_HEADER, "required" if missing else "does not verify")],
        http_status=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
    )


def _provider_unavailable(what: str) -> Unavailable:
    return Unavailable(
        f"The payment provider did not confirm the {what}; retry with the same request.",
        reason="PROVIDER_UNAVAILABLE",
        headers={"Retry-After": "1"},
    )


def _key_reused(field_name: str = "idempotency_key") -> Conflict:
    return Conflict(
        "This idempotency key was used for another request.",
        reason="IDEMPOTENCY_KEY_REUSED",
        errors=[FieldError(field_name, "was used for another request")],
    )


def _check_key(key: str, field_name: str = "idempotency_key") -> FieldError | None:
    if not key or len(key) > MAX_KEY_LENGTH:
        return FieldError(field_name, f"must be 1 to {MAX_KEY_LENGTH} characters")
    if not key.isascii() or not key.isprintable():
        return FieldError(field_name, "must be printable ASCII")
    return None


def _is_token(value: str) -> bool:
    return value.isascii() and value.replace("_", "").isalnum()


# ------------------------------------------------------------------------------ cursors


def encode_cursor(created_at: datetime, payment_id: str) -> str:
    return chassis_cursor.encode_cursor({"c": created_at.isoformat(), "i": payment_id})


def decode_cursor(token: str) -> tuple[datetime, str]:
    """The (created_at, id) a page ended on; anything else is a 422 naming `cursor`."""
    try:
        fields = chassis_cursor.decode_cursor(token)
        created, payment_id = fields["c"], fields["i"]
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("cursor time without a zone")
        when = when.astimezone(UTC)
        if not isinstance(payment_id, str) or len(payment_id) > 36 or when.year < 2000:
            raise ValueError("bad cursor")
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidArgument(
            "Malformed cursor.", errors=[FieldError("cursor", "is not a cursor of this list")]
        ) from exc
    return when, payment_id


# ------------------------------------------------------------------------------ service


Decide = Callable[[Payment], Reconciliation]


class _Stale(Exception):
    """The retrieved truth is older than the row: roll back, retrieve again."""


class PaymentService:
    def __init__(
        self,
        db: Database,
        provider: PaymentProvider,
        *,
        webhook_secret: str,
        webhook_tolerance_s: int = 300,
        checkout: CheckoutOrders | None = None,
        clock: Clock = utcnow,
        pending_after: timedelta = timedelta(minutes=5),
        authorized_after: timedelta = timedelta(hours=1),
        reconcile_batch: int = 100,
    ) -> None:
        self.db = db
        self.provider = provider
        self.webhook_secret = webhook_secret
        self.webhook_tolerance_s = webhook_tolerance_s
        self.checkout = checkout
        self.clock = clock
        self.pending_after = pending_after
        self.authorized_after = authorized_after
        self.reconcile_batch = reconcile_batch

    # ---- reads

    async def get_payment(self, *, payment_id: str = "", order_id: str = "") -> Payment:
        if not payment_id and not order_id:
            raise InvalidArgument(
                "Give a payment_id or an order_id.",
                errors=[FieldError("payment_id", "payment_id or order_id is required")],
            )
        async with self.db.connect() as conn:
            if payment_id:
                payment = await repository.get_payment(conn, payment_id)
            else:
                payment = await repository.latest_for_order(conn, order_id)
        if payment is None:
            raise NotFound("Payment not found.", reason="PAYMENT_NOT_FOUND")
        return payment

    async def list_payments(
        self,
        *,
        limit: int,
        filters: repository.PaymentFilter = repository.PaymentFilter(),
        cursor: str | None = None,
    ) -> PaymentPage:
        after = decode_cursor(cursor) if cursor else None
        async with self.db.connect() as conn:
            rows = await repository.list_payments(conn, limit + 1, filters, after)
        page, more = rows[:limit], len(rows) > limit
        last = page[-1] if page else None
        next_cursor = encode_cursor(last.created_at, last.payment.id) if more and last else None
        return PaymentPage(page, next_cursor)

    async def payment_detail(self, payment_id: str) -> PaymentDetail:
        async with self.db.connect() as conn:
            row = await repository.get_payment_row(conn, payment_id)
            if row is None:
                raise NotFound("Payment not found.", reason="PAYMENT_NOT_FOUND")
            ledger = await repository.ledger(conn, payment_id)
        return PaymentDetail(row, ledger)

    # ---- Charge

    async def charge(self, command: ChargeCommand) -> Payment:
        """Authorizes (or, with `capture`, charges) once per idempotency key. A declined card is
        an answer (FAILED with failure_reason); an unknown outcome answers PENDING."""
        self._validate_charge(command)
        capture_method = CaptureMethod.AUTOMATIC if command.capture else CaptureMethod.MANUAL
        # Insert first: a new key (the common case) costs one transaction, and a retry finds
        # the stored payment through the unique key.
        stored, is_new = await self._stored_or_new_charge(command, capture_method)
        self._check_same_charge(stored, command, capture_method)
        payment = stored.payment
        if is_new:
            return await self._create_intent(stored)
        if payment.status not in OPEN_STATUSES:
            return payment
        # A retry of a charge whose outcome we do not know yet: the intent's current state is
        # the answer (e.g. 3-D Secure finished, or the first call timed out after it applied).
        try:
            if payment.provider_reference is not None:
                truth = await self.provider.retrieve_intent(payment.provider_reference)
            else:
                # Found by our payment id even after the provider forgot the key (24 h);
                # otherwise the stored request is sent again under the same key.
                truth = await self.provider.find_intent(payment.id)
        except UnknownOutcome:
            return payment
        if truth is None:
            return await self._create_intent(stored)
        return (await self._apply_truth(payment.id, truth, Cause("api", "charge"))).payment

    def _validate_charge(self, command: ChargeCommand) -> None:
        errors: list[FieldError] = []
        if problem := _check_key(command.idempotency_key):
            errors.append(problem)
        if not command.user_id or len(command.user_id) > MAX_USER_ID_LENGTH:
            errors.append(FieldError("user_id", f"must be 1 to {MAX_USER_ID_LENGTH} characters"))
        method = command.payment_method
        if not method or len(method) > MAX_PAYMENT_METHOD_LENGTH or not _is_token(method):
            errors.append(
                FieldError(
                    "payment_method",
                    f"must be a provider token of 1 to {MAX_PAYMENT_METHOD_LENGTH} letters, "
                    "digits or underscores",
                )
            )
        try:
            domain.new_payment(
                payment_id="check",
                order_id=command.order_id,
                amount_minor=command.amount_minor,
                currency=command.currency,
                provider=self.provider.name,
            )
        except InvalidInput as exc:
            errors.append(FieldError(exc.field, str(exc)))
        if errors:
            fields = ", ".join(e.field for e in errors)
            raise InvalidArgument(f"Invalid charge: {fields}.", errors=errors)

    async def _stored_charge(self, key: str) -> repository.StoredCharge | None:
        async with self.db.connect() as conn:
            return await repository.get_charge_by_key(conn, key)

    async def _stored_or_new_charge(
        self, command: ChargeCommand, capture_method: CaptureMethod
    ) -> tuple[repository.StoredCharge, bool]:
        """The payment stored under the key, or a new pending one (True) committed before the
        provider is called."""
        payment = domain.new_payment(
            payment_id=str(uuid.uuid4()),
            order_id=command.order_id,
            amount_minor=command.amount_minor,
            currency=command.currency,
            provider=self.provider.name,
        )

        async def work(uow: UnitOfWork) -> None:
            await repository.insert_payment(
                uow.conn,
                payment,
                user_id=command.user_id,
                idempotency_key=command.idempotency_key,
                payment_method=command.payment_method,
                capture_method=capture_method.value,
                now=uow.now,
            )

        try:
            await self.db.write(work, clock=self.clock)
        except IntegrityError:
            # A retry (or a concurrent twin) with this key stored its payment first: it is ours.
            stored = await self._stored_charge(command.idempotency_key)
            if stored is None:
                raise
            return stored, False
        new = repository.StoredCharge(
            payment,
            command.user_id,
            command.idempotency_key,
            command.payment_method,
            capture_method.value,
        )
        return new, True

    @staticmethod
    def _check_same_charge(
        stored: repository.StoredCharge, command: ChargeCommand, capture_method: CaptureMethod
    ) -> None:
        p = stored.payment
        differs = [
            name
            for name, same in (
                ("order_id", p.order_id == command.order_id),
                ("user_id", stored.user_id == command.user_id),
                ("amount.amount_minor", p.amount_minor == command.amount_minor),
                ("amount.currency", p.currency == command.currency),
                ("payment_method", stored.payment_method == command.payment_method),
                ("capture", stored.capture_method == capture_method.value),
            )
            if not same
        ]
        if differs:
            raise Conflict(
                "This idempotency key was used for another charge "
                f"(different {', '.join(differs)}).",
                reason="IDEMPOTENCY_KEY_REUSED",
                errors=[FieldError("idempotency_key", "was used for another charge")],
            )

    async def _create_intent(self, stored: repository.StoredCharge) -> Payment:
        """Sends the stored request under the payment's key: the first call creates the intent,
        any later one (a retry, after a crash) gets the provider's first answer again."""
        payment = stored.payment
        request = IntentRequest(
            payment_id=payment.id,
            order_id=payment.order_id,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            payment_method=stored.payment_method,
            capture_method=CaptureMethod(stored.capture_method),
        )
        key = provider_idempotency_key(ProviderStep.AUTHORIZE, payment.id)
        cause = Cause("api", "charge")
        try:
            snapshot = await _counted(
                "authorize", self.provider.create_intent(request, idempotency_key=key)
            )
        except PaymentDeclined as exc:
            if exc.intent is not None:
                return (await self._apply_truth(payment.id, exc.intent, cause)).payment
            return (await self._fail_open(payment.id, cause, exc.failure_reason)).payment
        except UnknownOutcome as exc:
            log.warning(
                "charge outcome unknown; the payment stays pending",
                extra={
                    "event": "payment_outcome_unknown",
                    "payment_id": payment.id,
                    "error": str(exc),
                },
            )
            return await self.get_payment(payment_id=payment.id)
        except (IdempotencyKeyReused, ProviderMisconfigured) as exc:
            # Our keys are unique per payment: either means an operator must look.
            log.error(
                "provider refused the charge request itself",
                extra={
                    "event": "payment_provider_error",
                    "payment_id": payment.id,
                    "error": str(exc),
                },
            )
            raise _provider_unavailable("charge") from exc
        except InvalidProviderRequest as exc:
            # Refused as asked (e.g. an unknown PaymentMethod): nothing was created or held.
            return (await self._fail_open(payment.id, cause, exc.code or "invalid_request")).payment
        return (await self._apply_truth(payment.id, snapshot, cause)).payment

    # ---- Capture, Void

    async def capture(self, payment_id: str) -> Payment:
        payment = await self.get_payment(payment_id=payment_id)
        if payment.status in CAPTURED_STATUSES or payment.status is PaymentStatus.REFUNDED:
            return payment  # a retry: already done
        cause = Cause("api", "capture")
        try:
            domain.capture(payment, cause)
        except DomainError as exc:
            raise service_error(exc) from exc
        intent_id = self._reference(payment)
        try:
            truth = await _counted(
                "capture",
                self.provider.capture_intent(
                    intent_id,
                    idempotency_key=provider_idempotency_key(ProviderStep.CAPTURE, payment.id),
                ),
            )
        except UnknownOutcome as exc:
            raise _provider_unavailable("capture") from exc
        except InvalidProviderRequest as exc:
            # E.g. the authorization expired at the provider: take its truth, then refuse.
            return await self._after_refusal(payment, exc, domain.Transition.CAPTURE)
        return (await self._apply_truth(payment.id, truth, cause)).payment

    async def void(self, payment_id: str, reason: str = "") -> Payment:
        """Releases an authorization (or abandons a payment waiting for 3-D Secure). Refused
        once money moved: refund instead."""
        payment = await self.get_payment(payment_id=payment_id)
        if payment.status in (PaymentStatus.VOIDED, PaymentStatus.FAILED):
            return payment  # a retry, or nothing was ever held
        cause = Cause("api", reason[:MAX_REASON_LENGTH] or "void")
        if payment.status is not PaymentStatus.AUTHORIZED:
            try:
                domain.void(payment, cause)
            except domain.PaymentAlreadyCaptured as exc:
                raise service_error(exc) from exc
            except DomainError:
                if payment.provider_reference is None:
                    raise FailedPrecondition(
                        "The charge's outcome is not known yet; retry shortly.",
                        reason="PAYMENT_PENDING",
                    ) from None
        return await self._cancel(payment, cause)

    async def _cancel(self, payment: Payment, cause: Cause, *, report: bool = False) -> Payment:
        intent_id = self._reference(payment)
        try:
            truth = await _counted(
                "void",
                self.provider.cancel_intent(
                    intent_id,
                    idempotency_key=provider_idempotency_key(ProviderStep.VOID, payment.id),
                ),
            )
        except UnknownOutcome as exc:
            raise _provider_unavailable("void") from exc
        except InvalidProviderRequest as exc:
            return await self._after_refusal(payment, exc, domain.Transition.VOID)
        return (await self._apply_truth(payment.id, truth, cause, report=report)).payment

    async def _after_refusal(
        self, payment: Payment, exc: InvalidProviderRequest, transition: domain.Transition
    ) -> Payment:
        """The provider refused a step: its current truth decides (the step may already be
        done, by us earlier or in its dashboard); otherwise the refusal stands."""
        truth = await self.provider.retrieve_intent(self._reference(payment))
        after = (await self._apply_truth(payment.id, truth, Cause("api", transition.value))).payment
        done = {
            domain.Transition.CAPTURE: CAPTURED_STATUSES | {PaymentStatus.REFUNDED},
            domain.Transition.VOID: {PaymentStatus.VOIDED, PaymentStatus.FAILED},
        }[transition]
        if after.status in done:
            return after
        raise FailedPrecondition(
            f"The provider refused to {transition.value} the payment ({after.status.value}): {exc}",
            reason="PROVIDER_REFUSED",
        )

    @staticmethod
    def _reference(payment: Payment) -> str:
        if payment.provider_reference is None:
            raise FailedPrecondition(
                "The charge's outcome is not known yet; retry shortly.", reason="PAYMENT_PENDING"
            )
        return payment.provider_reference

    # ---- Refund

    async def refund(self, command: RefundCommand) -> Payment:
        """Returns all or part of the captured remainder, once per (payment, idempotency key)."""
        self._validate_refund(command)
        payment = await self.get_payment(payment_id=command.payment_id)
        if command.currency is not None and command.currency != payment.currency:
            raise InvalidArgument(
                f"Invalid refund: amount.currency must be {payment.currency}, the payment's.",
                errors=[FieldError("amount.currency", f"must be {payment.currency}")],
            )
        request = await self._refund_request(command)
        if request.status == repository.REFUND_SUCCEEDED:
            return await self.get_payment(payment_id=command.payment_id)
        if request.status == repository.REFUND_REFUSED:
            raise FailedPrecondition("The provider refused this refund.", reason="PROVIDER_REFUSED")
        intent_id = self._reference(payment)
        key = provider_idempotency_key(
            ProviderStep.REFUND, payment.id, discriminator=command.idempotency_key
        )
        try:
            refund = await _counted(
                "refund",
                self.provider.refund_intent(
                    intent_id, idempotency_key=key, amount_minor=request.amount_minor
                ),
            )
            truth = await self.provider.retrieve_intent(intent_id)
        except UnknownOutcome as exc:
            raise _provider_unavailable("refund") from exc
        except InvalidProviderRequest as exc:
            await self._settle_refund(command, repository.REFUND_REFUSED, None)
            raise FailedPrecondition(
                f"The provider refused the refund: {exc}", reason="PROVIDER_REFUSED"
            ) from exc

        async def settle(uow: UnitOfWork) -> None:
            await repository.settle_refund(
                uow.conn,
                payment.id,
                command.idempotency_key,
                status=repository.REFUND_SUCCEEDED,
                refund_id=refund.id,
                now=uow.now,
            )

        cause = Cause(command.actor, command.reason or "refund")
        return (await self._apply_truth(payment.id, truth, cause, also=settle)).payment

    def _validate_refund(self, command: RefundCommand) -> None:
        errors: list[FieldError] = []
        if problem := _check_key(command.idempotency_key):
            errors.append(problem)
        if command.amount_minor is not None:
            amount = command.amount_minor
            if isinstance(amount, bool) or not 0 < amount <= domain.MAX_AMOUNT_MINOR:
                errors.append(
                    FieldError("amount_minor", f"must be between 1 and {domain.MAX_AMOUNT_MINOR}")
                )
        if len(command.reason) > MAX_REASON_LENGTH:
            errors.append(FieldError("reason", f"must be at most {MAX_REASON_LENGTH} characters"))
        if errors:
            fields = ", ".join(e.field for e in errors)
            raise InvalidArgument(f"Invalid refund: {fields}.", errors=errors)

    async def _refund_request(self, command: RefundCommand) -> repository.RefundRequest:
        """The stored request for this key, or a new one whose amount fits the remainder (what
        was captured, less what was refunded or is being refunded)."""

        async def work(uow: UnitOfWork) -> repository.RefundRequest:
            payment = await repository.get_payment(uow.conn, command.payment_id, for_update=True)
            if payment is None:
                raise NotFound("Payment not found.", reason="PAYMENT_NOT_FOUND")
            existing = await repository.get_refund(uow.conn, payment.id, command.idempotency_key)
            if existing is not None:
                asked = command.amount_minor
                if asked is not None and asked != existing.amount_minor:
                    raise _key_reused()
                return existing
            in_flight = await repository.requested_refunds_minor(uow.conn, payment.id)
            cause = Cause(command.actor, command.reason or "refund")
            try:
                if payment.status is PaymentStatus.REFUNDED or (
                    payment.status in CAPTURED_STATUSES
                    and payment.refundable_minor - in_flight <= 0
                ):
                    raise RefundExceedsCaptured(
                        f"Nothing is left to refund of the {payment.captured_minor} captured.",
                        remainder_minor=0,
                    )
                view = replace(payment, refunded_minor=payment.refunded_minor + in_flight)
                step = domain.refund(view, cause, command.amount_minor)
            except DomainError as exc:
                raise service_error(exc) from exc
            amount = step.event.amount_minor
            await repository.insert_refund(
                uow.conn,
                payment.id,
                command.idempotency_key,
                amount,
                actor=command.actor,
                reason=command.reason,
                now=uow.now,
            )
            return repository.RefundRequest(
                payment.id, command.idempotency_key, amount, repository.REFUND_REQUESTED, None
            )

        return await self.db.write(work, clock=self.clock)

    async def _settle_refund(self, command: RefundCommand, status: str, refund_id: str | None):
        async def work(uow: UnitOfWork) -> None:
            await repository.settle_refund(
                uow.conn,
                command.payment_id,
                command.idempotency_key,
                status=status,
                refund_id=refund_id,
                now=uow.now,
            )

        await self.db.write(work, clock=self.clock)

    # ---- Webhooks

    async def handle_webhook(self, payload: bytes, signature: str | None) -> WebhookResult:
        """A Stripe event: verified (a forged one stores nothing), deduplicated by its id in the
        transaction of its effect, and acted on through the intent's current (retrieved) state.
        Counted by type and result; a processed event's lag since its creation is observed."""
        try:
            event = verify_webhook(
                payload, signature, self.webhook_secret, self.webhook_tolerance_s
            )
        except WebhookSignatureInvalid as exc:
            WEBHOOKS.labels("unknown", "bad_signature").inc()
            raise _bad_signature(f"Stripe webhook refused: {exc}", not signature) from exc
        if not event.id or len(event.id) > 64:
            WEBHOOKS.labels("unknown", "bad_signature").inc()
            raise _bad_signature("Stripe webhook refused: no usable event id", False)
        result = await self._act_on(event, payload)
        WEBHOOKS.labels(event.type, result.outcome).inc()
        if result.outcome == "processed" and event.created:
            WEBHOOK_LAG.observe(max(self.clock().timestamp() - event.created, 0.0))
        return result

    async def _act_on(self, event, payload: bytes) -> WebhookResult:
        if event.type not in INTENT_EVENT_TYPES or not event.payment_intent_id:
            return WebhookResult(event.id, event.type, "ignored")
        # Duplicates are rare: they are recognised in the transaction of the effect (below), at
        # the cost of one retrieve, rather than every event paying for a look-up first.
        cause = Cause("webhook", event.type, event.id)
        for attempt in range(2):
            try:
                truth = await self.provider.retrieve_intent(event.payment_intent_id)
            except IntentNotFound:
                truth = None
            except UnknownOutcome as exc:
                raise _provider_unavailable("event's intent") from exc
            try:
                return await self._apply_event(event, truth, payload, cause, last=attempt == 1)
            except _Stale:
                continue
        raise AssertionError("unreachable")

    async def _apply_event(self, event, truth, payload: bytes, cause: Cause, *, last: bool):
        async def work(uow: UnitOfWork) -> WebhookResult:
            if not await uow.mark_processed(WEBHOOK_CONSUMER, event.id):
                return WebhookResult(event.id, event.type, "duplicate")
            await repository.record_provider_event(
                uow.conn, event.id, event.type, payload.decode("utf-8", "replace"), uow.now
            )
            payment = None
            if truth is not None:
                payment = await self._locked_payment_of(uow, truth)
            if payment is None:  # not an intent of ours (or no longer at the provider)
                return WebhookResult(event.id, event.type, "ignored")
            result = await self._transition_locked(
                uow,
                payment,
                truth,
                lambda current: domain.reconcile(current, truth, cause),
                cause,
                report=True,
            )
            if result.mismatch and not last:
                raise _Stale  # maybe our own later step committed after the retrieve: re-ask
            return WebhookResult(event.id, event.type, "processed", result.payment, result.mismatch)

        outcome = await self.db.write(work, clock=self.clock)
        if outcome.payment is not None:
            self._report_mismatch(outcome.payment.id, cause.actor, outcome.mismatch)
        return outcome

    async def _locked_payment_of(self, uow: UnitOfWork, truth: IntentSnapshot) -> Payment | None:
        found = await repository.find_by_provider_reference(uow.conn, truth.id)
        payment_id = found.id if found else truth.metadata.get("payment_id")
        if not payment_id:
            return None
        payment = await repository.get_payment(uow.conn, payment_id, for_update=True)
        if payment is None or payment.provider_reference not in (None, truth.id):
            return None
        return payment

    # ---- 3-D Secure in development (what Stripe.js does after the customer's challenge)

    async def complete_authentication(
        self, payment_id: str, *, client_secret: str, success: bool
    ) -> Payment:
        complete = getattr(self.provider, "complete_authentication", None)
        if complete is None:
            raise NotFound("Only the mock provider simulates 3-D Secure.", reason="NOT_AVAILABLE")
        payment = await self.get_payment(payment_id=payment_id)
        if not payment.client_secret or not hmac.compare_digest(
            client_secret.encode(), payment.client_secret.encode()
        ):
            raise PermissionDenied(
                "The client secret does not match the payment.",
                reason="CLIENT_SECRET_INVALID",
                errors=[FieldError("client_secret", "does not match the payment")],
            )
        if payment.status is not PaymentStatus.REQUIRES_ACTION:
            raise FailedPrecondition(
                f"The payment is {payment.status.value}, not waiting for 3-D Secure.",
                reason="ILLEGAL_TRANSITION",
            )
        try:
            await complete(
                self._reference(payment), client_secret=payment.client_secret, success=success
            )
        except InvalidProviderRequest as exc:
            raise FailedPrecondition(str(exc), reason="PROVIDER_REFUSED") from exc
        # The outcome reaches the payment the way Stripe's does: as a webhook (outbox relay).
        return payment

    # ---- Reconciliation

    async def reconcile_stuck(self) -> ReconciliationReport:
        """Payments open or authorized beyond their limits, brought to the provider's truth;
        authorizations whose order is gone are voided."""
        now = self.clock()
        async with self.db.connect() as conn:
            stuck = await repository.stuck_payments(
                conn, OPEN_STATUSES, now - self.pending_after, self.reconcile_batch
            )
            stuck += await repository.stuck_payments(
                conn, [PaymentStatus.AUTHORIZED], now - self.authorized_after, self.reconcile_batch
            )
        report = ReconciliationReport()
        for payment in stuck:
            report.checked += 1
            try:
                await self._reconcile_one(payment, report)
            except Exception as exc:  # one provider hiccup must not stop the batch
                report.errors += 1
                log.warning(
                    "reconciliation of a payment failed; next run retries",
                    extra={
                        "event": "payment_reconcile_error",
                        "payment_id": payment.id,
                        "error": repr(exc)[:300],
                    },
                )
        return report

    async def _reconcile_one(self, payment: Payment, report: ReconciliationReport) -> None:
        cause = Cause("reconciliation", f"{payment.status.value} beyond its limit")
        if payment.provider_reference is not None:
            truth: IntentTruth | None = await self.provider.retrieve_intent(
                payment.provider_reference
            )
        else:
            truth = await self.provider.find_intent(payment.id)
        if truth is None:
            # Long past the call: the provider never received it (crash before sending).
            result = await self._fail_open(payment.id, cause, NOT_SENT_REASON, report=True)
        else:
            result = await self._apply_truth(payment.id, truth, cause, report=True)
        if result.events:
            report.changed += 1
            RECONCILED.labels(result.payment.status.value).inc()
        if result.mismatch:
            report.mismatches += 1
            report.details.append(f"{payment.id}: {result.mismatch}")
        # Only a hold that was already waiting beyond its limit: one just resolved from pending
        # belongs to an order that is waiting for it (checkout hears of it now).
        held_too_long = payment.status is PaymentStatus.AUTHORIZED
        if (
            held_too_long
            and result.payment.status is PaymentStatus.AUTHORIZED
            and self.checkout is not None
        ):
            order = await self.checkout.order(result.payment.order_id)
            if order is None or order.status in CLOSED_ORDER_STATUSES:
                why = "order not found" if order is None else f"order {order.status.value}"
                await self._cancel(result.payment, Cause("reconciliation", f"void: {why}"))
                report.orphans_voided += 1
                ORPHANS_VOIDED.inc()

    # ---- applying transitions

    async def _fail_open(
        self, payment_id: str, cause: Cause, failure_reason: str, *, report: bool = False
    ) -> Reconciliation:
        def decide(current: Payment) -> Reconciliation:
            if current.status not in OPEN_STATUSES:
                return Reconciliation(current, ())
            step = domain.fail(current, cause, failure_reason)
            return Reconciliation(step.payment, (step.event,))

        async def work(uow: UnitOfWork) -> Reconciliation:
            current = await self._locked(uow, payment_id)
            return await self._transition_locked(uow, current, None, decide, cause, report=report)

        result = await self.db.write(work, clock=self.clock)
        self._report_mismatch(payment_id, cause.actor, result.mismatch)
        return result

    async def _apply_truth(
        self,
        payment_id: str,
        truth: IntentSnapshot,
        cause: Cause,
        *,
        report: bool = False,
        also: Callable[[UnitOfWork], Awaitable[None]] | None = None,
    ) -> Reconciliation:
        """Links the payment to its intent and brings it to the intent's state, under a row
        lock (a webhook applying the same truth concurrently waits, then changes nothing)."""

        async def work(uow: UnitOfWork) -> Reconciliation:
            current = await self._locked(uow, payment_id)
            if also is not None:
                await also(uow)
            return await self._transition_locked(
                uow,
                current,
                truth,
                lambda p: domain.reconcile(p, truth, cause),
                cause,
                report=report,
            )

        result = await self.db.write(work, clock=self.clock)
        self._report_mismatch(payment_id, cause.actor, result.mismatch)
        return result

    async def _locked(self, uow: UnitOfWork, payment_id: str) -> Payment:
        payment = await repository.get_payment(uow.conn, payment_id, for_update=True)
        if payment is None:
            raise NotFound("Payment not found.", reason="PAYMENT_NOT_FOUND")
        return payment

    async def _transition_locked(
        self,
        uow: UnitOfWork,
        current: Payment,
        truth: IntentSnapshot | None,
        decide: Decide,
        cause: Cause,
        *,
        report: bool,
    ) -> Reconciliation:
        if truth is not None and current.provider_reference is None:
            await repository.set_provider_reference(
                uow.conn, current.id, truth.id, truth.client_secret, uow.now
            )
            current = replace(
                current,
                provider_reference=truth.id,
                client_secret=truth.client_secret or current.client_secret,
            )
        result = decide(current)
        if result.events:
            if not await repository.save_transitions(
                uow.conn, current, result.payment, result.events, uow.now
            ):
                # The row is locked: only a bug gets here. Roll back rather than guess.
                raise RuntimeError(f"payment {current.id} changed under its row lock")
            if report:
                await self._publish_outcome(uow, result.payment, result.events, cause)
        return result

    @staticmethod
    def _report_mismatch(payment_id: str, actor: str, mismatch: str | None) -> None:
        """After the commit (a rolled-back attempt reports nothing): the truth cannot be
        reached through transitions, a person must look."""
        if mismatch is None:
            return
        MISMATCHES.labels(actor).inc()
        log.error(
            "payment does not match its provider's truth",
            extra={
                "event": "payment_mismatch",
                "payment_id": payment_id,
                "actor": actor,
                "mismatch": mismatch,
            },
        )

    async def _publish_outcome(
        self,
        uow: UnitOfWork,
        payment: Payment,
        events: tuple[domain.PaymentEvent, ...],
        cause: Cause,
    ) -> None:
        """One message per outcome status reached (several when a webhook finds the intent
        further on, e.g. authorized and captured); checkout dedupes on provider_event_id."""
        for event in events:
            outcome = _OUTCOME_OF.get(event.to_status)
            if outcome is None:
                continue
            status = event.to_status.value
            # A status is reached at most once per payment: the id is unique per outcome.
            await uow.publish(
                OUTCOME_TOPIC,
                {
                    "order_id": payment.order_id,
                    "payment_id": payment.id,
                    "status": status,
                    "outcome": outcome.value,
                    "provider_event_id": cause.provider_event_id
                    or f"{cause.actor}:{payment.id}:{status}",
                    "failure_reason": event.failure_reason or "",
                },
                message_id=f"outcome:{payment.id}:{status}",
            )
