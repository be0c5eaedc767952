"""The checkout saga's orchestrator: places an order by driving five other services, and puts
everything back when it cannot.

Why the steps come in this order
--------------------------------
1. **lock the cart** (by order id): freezes what is being bought, so the lines priced, reserved
   and charged are the lines the customer saw; a second checkout of the same cart is refused
   here, before anything costs anything. Undo: unlock (a no-op for another checkout's lock).
2. **price the lines** from catalog and **fetch the address** from identity: read-only calls,
   so they come before anything is held; the client's prices are never trusted. Their result
   is what **creates the order** (lines, total, address written on the `pending` order, which
   existed since the request arrived so that the idempotency key and every later step have a
   durable anchor).
3. **reserve the stock** with a TTL (keyed by the order id): the scarce resource is claimed
   before money is touched, so a sell-out fails cheaply (no authorization to void), and the
   TTL bounds how long a crashed or abandoned checkout can hold stock.
4. **authorize the payment** (manual capture, key `order:<id>:authorize`): funds are held, not
   taken, so every failure after this point is undone by a void, which costs the customer
   nothing. 3-D Secure makes the saga wait here (`awaiting_payment`), at most until shortly
   before the reservation lapses.
5. **commit the reservation**: after the authorization, because a commit cannot be undone by a
   release (only by a restock), and before the capture, because an expired reservation is the
   likely late failure and must still be met with a void, not a refund.
6. **capture**: the point of no return for money, taken only once the stock is ours.
7. **confirm the order** and write the confirmation e-mail to the outbox in the same
   transaction (the e-mail exists exactly when the confirmation does).
8. **clear the cart** (keyed by order id, so items the shopper added meanwhile survive). After
   the confirmation the saga only moves forward: this step is retried until it succeeds.

Compensations run in reverse from the furthest step reached, including the step whose call
failed (its effect may have happened): void the authorization (refund if it was captured),
release the reservation, unlock the cart, then close the order `failed` with a reason (or
`cancelled`). Each is a no-op where the forward step never took effect.

How it stays correct
--------------------
- No database transaction is open during a remote call. A run *claims* the saga (a lease in a
  short transaction), makes one step's call (or a chain's calls, below), then commits the
  effect, the saga's next state and the saga-log rows in one unit of work, fenced on its lease
  and the version it read.
- Chains (`domain.CHAINED_STEPS`): lock + price, reserve + authorize, commit + capture (+ the
  confirmation) + clear run back to back and commit once, so a paid order takes four commits
  (with the intake) instead of eight. A crash inside a chain resumes at its head and repeats
  its keyed calls; a failure at a head is compensated as far as the chain may have reached
  (a saga recorded at the reserve may already hold an authorization: it is voided).
- Every remote call is keyed by the order id (+ step), so repeating it is a no-op. A step that
  may already have run (a retry, a crash before the commit) first asks the other service what
  it knows (`GetReservation`, `GetPayment`) and acts on that instead of guessing.
- A failure that may be transient (unreachable, deadline exceeded) is retried with backoff, the
  due time stored in the row; a forward step that keeps failing gives up and compensates; a
  compensation or a post-confirmation step never gives up.
- A crashed run leaves its lease: `recover_expired_leases` (a beat job) claims every due saga
  whose lease ran out (`FOR UPDATE SKIP LOCKED` on MariaDB) and resumes or compensates it.
- A payment outcome reported asynchronously (a webhook via payments) is deduplicated by its
  event id and only *wakes* the saga; the saga then asks payments for the payment's current
  state, so an outcome arriving before the synchronous answer, twice, or out of order leads to
  the same single result.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from vanity_common.clock import Clock, utcnow
from vanity_common.db import Database
from vanity_common.errors import (
    Conflict,
    FailedPrecondition,
    FieldError,
    InvalidArgument,
    NotFound,
)
from vanity_common.outbox import backoff_seconds

from vanity_checkout import domain
from vanity_checkout import repository as repo
from vanity_checkout import saga_metrics as metrics
from vanity_checkout.domain import (
    ACTIVE_SAGA_STATES,
    FailureReason,
    Order,
    OrderLine,
    OrderStatus,
    Saga,
    SagaState,
    SagaStep,
    ShippingAddress,
)
from vanity_checkout.ports import (
    CartEmpty,
    CartLocked,
    InsufficientStock,
    Money,
    Payment,
    PaymentRefused,
    PaymentStatus,
    Reservation,
    ReservationClosed,
    ReservationMismatch,
    ReservationStatus,
    UnknownSku,
)
from vanity_checkout.saga_ports import SagaPorts

log = logging.getLogger(__name__)

ORDER_EMAIL_TASK = "checkout.send_order_email"  # Celery task, sent through the outbox
RESTOCK_TOPIC = "checkout.restock_required"  # a committed order was cancelled
PAYMENT_OUTCOME_CONSUMER = "checkout.payment_outcome"
PAYMENT_OUTCOMES = ("succeeded", "failed")  # ReportPaymentOutcome's PaymentOutcome, in words
# Steps with no remote call: written by the commit of the step before them.
LOCAL_STEPS = frozenset({SagaStep.CONFIRM_ORDER, SagaStep.CLOSE_ORDER})
MAX_KEY_LENGTH = 128
MAX_PAYMENT_METHOD_LENGTH = 255


@dataclass(frozen=True)
class SagaSettings:
    reservation_ttl_seconds: int = 900
    # The 3-D Secure wait ends this long before the reservation lapses (time left to commit).
    payment_wait_margin_seconds: int = 60
    # Longer than a chain's slowest remote calls (deadline each, retries within it) plus
    # its commit: four calls of 3 s at most.
    lease_seconds: float = 30.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    # A forward step failing this many times in a row gives up and compensates.
    max_forward_attempts: int = 8
    recovery_batch: int = 20


@dataclass(frozen=True)
class PlaceOrder:
    user_id: str
    idempotency_key: str
    payment_method: str
    shipping_address_id: str | None = None
    shipping_address: ShippingAddress | None = None
    # What the client showed the customer; a different catalog total fails `price_changed`.
    expected_total_minor: int | None = None


class _Kind(StrEnum):
    DONE = "done"  # the step took effect
    WAIT = "wait"  # authorize answered requires_action
    PAID = "paid"  # the awaited payment is authorized
    STILL_WAITING = "still_waiting"
    FAIL = "fail"  # the step failed for good: compensate
    RETRY = "retry"  # unknown or transient: try again later


@dataclass(frozen=True)
class _Outcome:
    kind: _Kind
    reason: FailureReason | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    lines: tuple[OrderLine, ...] = ()
    total_minor: int = 0
    currency: str = ""
    address: ShippingAddress | None = None
    payment: Payment | None = None
    reservation_expires_at: datetime | None = None
    restock_required: bool = False


def _done(**kwargs) -> _Outcome:
    return _Outcome(_Kind.DONE, **kwargs)


def _fail(reason: FailureReason, **detail) -> _Outcome:
    return _Outcome(_Kind.FAIL, reason=reason, detail=detail)


def _retry(error: str) -> _Outcome:
    return _Outcome(_Kind.RETRY, detail={"error": error[:500]})


@dataclass
class _Run:
    """What one run of a saga reads before a step."""

    record: repo.SagaRecord
    order: Order
    carry: dict[str, Any]

    @property
    def saga(self) -> Saga:
        return self.record.saga


@dataclass(frozen=True)
class InFlight:
    """Active sagas by state, and the age of the oldest one (0 when none is active)."""

    counts: dict[str, int]
    oldest_age_s: float


class CheckoutSaga:
    """The saga's use cases. One instance per process; `worker_id` names it in leases and logs."""

    def __init__(
        self,
        db: Database,
        ports: SagaPorts,
        *,
        clock: Clock = utcnow,
        settings: SagaSettings | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.ports = ports
        self.clock = clock
        self.settings = settings or SagaSettings()
        self.worker_id = (worker_id or f"{socket.gethostname()[:40]}:{os.getpid()}")[:60]
        self._background: set[asyncio.Task] = set()

    # ================================================================== use cases: placing

    async def place_order(self, command: PlaceOrder, *, wait_s: float | None = None) -> Order:
        """Creates the order and its saga (once per user and idempotency key) and runs the saga
        until it completes, fails, or waits for the customer. With `wait_s`, answers after at
        most that long with the order as it is then (`pending`); the run goes on in the
        background and the client polls. A repeated key answers the existing order."""
        self._validate(command)
        started_at = time.perf_counter()
        owner = self._lease_token()
        order_id = str(uuid.uuid4())

        async def intake(uow) -> tuple[str, tuple[repo.SagaRecord, Order] | None]:
            existing = await repo.order_id_for_key(
                uow.conn, command.user_id, command.idempotency_key
            )
            if existing is not None:
                return existing, None
            now = uow.now
            order = Order(
                id=order_id,
                user_id=command.user_id,
                status=OrderStatus.PENDING,
                total_minor=0,
                currency="",
                created_at=now,
                shipping_address=command.shipping_address,
            )
            await repo.insert_order(uow.conn, order, command.idempotency_key, now)
            saga = domain.start_saga(order_id)
            lease_until = self._lease_end(now)
            await repo.insert_saga(
                uow.conn,
                saga,
                payment_method=command.payment_method,
                address_id=command.shipping_address_id,
                expected_total_minor=command.expected_total_minor,
                lease_owner=owner,
                lease_until=lease_until,
                now=now,
            )
            record = repo.SagaRecord(
                saga=saga,
                payment_method=command.payment_method,
                address_id=command.shipping_address_id,
                expected_total_minor=command.expected_total_minor,
                attempts=0,
                next_attempt_at=lease_until,
                lease_owner=owner,
                lease_until=lease_until,
            )
            await repo.append_log(
                uow.conn,
                order_id,
                "saga_started",
                actor=owner,
                now=now,
                detail={"state": saga.state.value, "step": saga.step.value},
            )
            return order_id, (record, order)

        try:
            placed_id, started = await self.db.write(intake, clock=self.clock)
            if started is not None:
                metrics.SAGAS_STARTED.inc()
        except IntegrityError:
            # A concurrent duplicate committed first: it is the one order for this key.
            async with self.db.connect() as conn:
                placed_id = await repo.order_id_for_key(
                    conn, command.user_id, command.idempotency_key
                )
            if placed_id is None:
                raise
            started = None
        if started is not None:
            run = self._drive(placed_id, owner, started)
            if wait_s is None:
                order = await run
                metrics.PLACE_DURATION.observe(time.perf_counter() - started_at)
                if order is not None:
                    return order
            else:
                task = asyncio.create_task(run)
                self._background.add(task)
                task.add_done_callback(self._background.discard)

                # REST passes wait_s: the run is timed too when its answer (202) went out first
                # (the checkout latency SLO reads this histogram).
                def timed(run_task: asyncio.Task) -> None:
                    if not run_task.cancelled():
                        metrics.PLACE_DURATION.observe(time.perf_counter() - started_at)

                task.add_done_callback(timed)
                done, _ = await asyncio.wait({task}, timeout=wait_s)
                if task in done and not task.cancelled() and task.exception() is None:
                    order = task.result()
                    if order is not None:
                        return order  # as the run's last commit wrote it: no second read
        return await self.get_order(placed_id)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Shutdown: lets runs that outlived their request finish for up to `timeout_s`, then
        cancels the rest (their leases lapse and recovery resumes them)."""
        if not self._background:
            return
        _done_runs, pending = await asyncio.wait(set(self._background), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    @staticmethod
    def _validate(command: PlaceOrder) -> None:
        errors = []
        if not command.idempotency_key or len(command.idempotency_key) > MAX_KEY_LENGTH:
            errors.append(FieldError("Idempotency-Key", f"1..{MAX_KEY_LENGTH} characters."))
        if not command.payment_method or len(command.payment_method) > MAX_PAYMENT_METHOD_LENGTH:
            errors.append(
                FieldError("payment_method", f"1..{MAX_PAYMENT_METHOD_LENGTH} characters.")
            )
        if (command.shipping_address_id is None) == (command.shipping_address is None):
            errors.append(
                FieldError(
                    "shipping_address_id", "Give either shipping_address_id or shipping_address."
                )
            )
        if command.expected_total_minor is not None and command.expected_total_minor < 0:
            errors.append(FieldError("expected_total_minor", "Must not be negative."))
        if errors:
            raise InvalidArgument("The checkout request is invalid.", errors=errors)

    # =========================================================== use cases: moving it along

    async def advance(self, order_id: str) -> Order:
        """Runs the saga now if it is due and nobody holds it (else leaves it to its holder)."""
        await self._claim_and_drive(order_id, due_only=True)
        return await self.get_order(order_id)

    async def handle_payment_outcome(
        self,
        order_id: str,
        *,
        outcome: str,
        provider_event_id: str = "",
        payment_id: str = "",
        failure_reason: str = "",
    ) -> Order:
        """payments' `ReportPaymentOutcome`: deduplicated by the provider's event id, noted on
        the saga, which then asks payments for the payment's current state (the outcome itself
        is only a wake-up: duplicates and reordering cannot change the result)."""
        if outcome not in PAYMENT_OUTCOMES:
            raise InvalidArgument(
                "Unknown payment outcome.",
                errors=[FieldError("outcome", f"One of {', '.join(PAYMENT_OUTCOMES)}.")],
            )
        message_id = _message_id(provider_event_id or f"{order_id}:{payment_id}:{outcome}")

        async def work(uow) -> bool:
            if await repo.get_order(uow.conn, order_id) is None:
                raise NotFound("Order not found.", reason="ORDER_NOT_FOUND")
            if not await uow.mark_processed(PAYMENT_OUTCOME_CONSUMER, message_id):
                return False
            woke = await repo.record_payment_outcome(uow.conn, order_id, outcome, uow.now)
            await repo.append_log(
                uow.conn,
                order_id,
                "payment_outcome_reported",
                actor="payments",
                now=uow.now,
                detail={
                    "outcome": outcome,
                    "provider_event_id": provider_event_id,
                    "payment_id": payment_id,
                    "failure_reason": failure_reason,
                    "woke_saga": woke,
                },
            )
            return woke

        if await self.db.write(work, clock=self.clock):
            await self._claim_and_drive(order_id, due_only=False)
        return await self.get_order(order_id)

    async def recover_expired_leases(self, limit: int | None = None) -> int:
        """The recovery sweep (beat): claims due sagas nobody holds (crashed runs, retries
        whose backoff ended, 3-D Secure waits past their deadline) and runs each. Answers how
        many it claimed."""
        owner = self._lease_token()
        batch = limit or self.settings.recovery_batch

        async def claim(uow) -> list[str]:
            return await repo.claim_due(
                uow.conn,
                owner=owner,
                now=uow.now,
                lease_until=self._lease_end(uow.now),
                limit=batch,
            )

        order_ids = await self.db.write(claim, clock=self.clock)
        metrics.RECOVERED.inc(len(order_ids))
        if order_ids:
            log.info("saga recovery claimed %d", len(order_ids), extra={"event": "saga_recovery"})
            # Concurrently: each saga's lease runs while it waits its turn. One saga's failure
            # (its lease then lapses and a later sweep retries it) does not stop the others.
            results = await asyncio.gather(
                *(self._drive(order_id, owner) for order_id in order_ids), return_exceptions=True
            )
            for order_id, result in zip(order_ids, results, strict=True):
                if isinstance(result, Exception):
                    log.error(
                        "saga recovery failed for %s: %r",
                        order_id,
                        result,
                        extra={"event": "saga_recovery_error", "order_id": order_id},
                    )
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result  # cancelled or dying: after the others had their turn
        return len(order_ids)

    async def report_in_flight(self) -> InFlight:
        """Sets the in-flight gauges from the saga table (after each recovery sweep): how many
        sagas are active in each state and how old the oldest is. Counters cannot show a saga
        that never ends; this age can (alert CheckoutSagaOldestInFlight)."""
        async with self.db.connect() as conn:
            counts, oldest_started = await repo.in_flight(conn)
        oldest_age_s = (
            max((self.clock() - oldest_started).total_seconds(), 0.0) if oldest_started else 0.0
        )
        for state in ACTIVE_SAGA_STATES:
            metrics.IN_FLIGHT.labels(state.value).set(counts.get(state.value, 0))
        metrics.OLDEST_IN_FLIGHT.set(oldest_age_s)
        return InFlight(counts, oldest_age_s)

    # ==================================================== use cases: after the order exists

    async def cancel_order(
        self, order_id: str, *, owner: str | None = None, by_admin: bool = False
    ) -> Order:
        """Before shipping. Awaiting payment: void, release, unlock, `cancelled`. Confirmed:
        refund, stock handed back (a committed reservation cannot be released: a restock is
        requested through the outbox), `cancelled`. Cancelling a cancelled order is a no-op."""
        reason = (
            FailureReason.CANCELLED_BY_ADMIN if by_admin else FailureReason.CANCELLED_BY_CUSTOMER
        )
        token = self._lease_token()

        async def work(uow) -> bool:
            order = await self._owned_order(uow.conn, order_id, owner)
            record = await repo.get_saga(uow.conn, order_id, for_update=True)
            if order.status is OrderStatus.CANCELLED:
                return False
            if record is not None and record.saga.state is SagaState.COMPENSATING:
                return False  # already being undone
            if order.status not in (OrderStatus.AWAITING_PAYMENT, OrderStatus.CONFIRMED):
                raise FailedPrecondition(
                    f"An order that is {order.status.value} cannot be cancelled.",
                    reason="ORDER_NOT_CANCELLABLE",
                )
            if record is None or (record.lease_until and record.lease_until >= uow.now):
                raise Conflict(
                    "The order is being processed; try again shortly.", reason="ORDER_BUSY"
                )
            saga = record.saga
            try:
                if saga.state is SagaState.COMPLETED:
                    new, event = domain.reopen_for_cancellation(saga, reason)
                else:
                    new, event = domain.compensate(saga, reason)
            except domain.IllegalTransition as exc:
                raise Conflict(
                    "The order is being processed; try again shortly.", reason="ORDER_BUSY"
                ) from exc
            if not await repo.take_over_saga(
                uow.conn,
                new,
                owner=token,
                read_version=saga.version,
                now=uow.now,
                lease_until=self._lease_end(uow.now),
            ):
                raise Conflict(
                    "The order is being processed; try again shortly.", reason="ORDER_BUSY"
                )
            await repo.append_log(
                uow.conn,
                order_id,
                event.transition.value,
                actor=token,
                now=uow.now,
                transition=event,
            )
            return True

        if await self.db.write(work, clock=self.clock):
            await self._drive(order_id, token)
        return await self.get_order(order_id)

    async def refund(
        self,
        order_id: str,
        *,
        idempotency_key: str,
        amount_minor: int | None = None,
        actor: str = "admin",
    ) -> Order:
        """Refunds all that remains (`amount_minor` None) or part of a paid order. The refund
        is keyed `order:<id>:refund:<key>` at payments, and the order records what payments
        says was refunded in total, so a retried refund neither refunds nor counts twice."""
        async with self.db.connect() as conn:
            order = await self._owned_order(conn, order_id, None)
            await self._refuse_while_undoing(conn, order_id, lock=False)
        if (
            order.status
            not in (
                OrderStatus.CONFIRMED,
                OrderStatus.PARTIALLY_REFUNDED,
                OrderStatus.SHIPPED,
            )
            or not order.payment_id
        ):
            raise FailedPrecondition(
                f"An order that is {order.status.value} cannot be refunded.",
                reason="ORDER_NOT_REFUNDABLE",
            )
        remaining = order.total_minor - order.refunded_minor
        amount = remaining if amount_minor is None else amount_minor
        if not 0 < amount <= remaining:
            raise InvalidArgument(
                f"A refund is 1..{remaining} minor units for this order.",
                errors=[FieldError("amount_minor", f"Must be 1..{remaining}.")],
            )
        if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
            raise InvalidArgument(
                "An idempotency key is required.",
                errors=[FieldError("Idempotency-Key", f"1..{MAX_KEY_LENGTH} characters.")],
            )
        payment = await self.ports.payments.refund(
            order.payment_id,
            f"order:{order_id}:refund:{idempotency_key}",
            Money(amount, order.currency),
            f"refund by {actor}",
        )

        async def work(uow) -> None:
            await self._refuse_while_undoing(uow.conn, order_id)
            current = await self._owned_order(uow.conn, order_id, None)
            newly = payment.refunded.amount_minor - current.refunded_minor
            if newly <= 0:
                return  # already recorded (a retry, or a concurrent refund got here first)
            updated = replace(domain.refund(current, newly), payment_status=payment.status.value)
            await repo.update_order(uow.conn, updated, uow.now)
            await repo.append_log(
                uow.conn,
                order_id,
                "refunded",
                actor=actor,
                now=uow.now,
                detail={"amount_minor": newly, "status": updated.status.value},
            )
            await self._publish_email(
                uow, updated, "refunded", f"{order_id}:refund:{_message_id(idempotency_key)}"
            )

        await self.db.write(work, clock=self.clock)
        return await self.get_order(order_id)

    async def ship(
        self, order_id: str, *, tracking_number: str, carrier: str = "", actor: str = "admin"
    ) -> Order:
        if not tracking_number.strip() or len(tracking_number) > 100 or len(carrier) > 64:
            raise InvalidArgument(
                "A shipment needs a tracking number (1..100) and a carrier (..64).",
                errors=[FieldError("tracking_number", "1..100 characters.")],
            )

        async def work(uow) -> None:
            # The saga row first (cancel_order locks it too): a cancellation being undone
            # and a shipment never interleave.
            await self._refuse_while_undoing(uow.conn, order_id)
            order = await self._owned_order(uow.conn, order_id, None)
            if order.status is OrderStatus.SHIPPED and order.tracking_number == tracking_number:
                return  # a retry
            try:
                shipped = domain.ship(order, tracking_number, carrier)
            except domain.IllegalTransition as exc:
                raise FailedPrecondition(str(exc), reason="ORDER_NOT_SHIPPABLE") from exc
            await repo.update_order(uow.conn, shipped, uow.now)
            await repo.append_log(
                uow.conn,
                order_id,
                "shipped",
                actor=actor,
                now=uow.now,
                detail={"tracking_number": tracking_number, "carrier": carrier},
            )
            await self._publish_email(uow, shipped, "shipped", f"{order_id}:shipped")

        await self.db.write(work, clock=self.clock)
        return await self.get_order(order_id)

    # ============================================================================ queries

    async def get_order(self, order_id: str, *, owner: str | None = None) -> Order:
        async with self.db.connect() as conn:
            return await self._owned_order(conn, order_id, owner)

    async def get_saga(self, order_id: str) -> repo.SagaRecord | None:
        async with self.db.connect() as conn:
            return await repo.get_saga(conn, order_id)

    async def timeline(self, order_id: str) -> list[repo.SagaLogEntry]:
        async with self.db.connect() as conn:
            return await repo.saga_timeline(conn, order_id)

    @staticmethod
    async def _refuse_while_undoing(conn, order_id: str, *, lock: bool = True) -> None:
        """Refunds and shipments wait until a cancellation has been undone in full."""
        record = await repo.get_saga(conn, order_id, for_update=lock)
        if record is not None and record.saga.state is SagaState.COMPENSATING:
            raise Conflict("The order is being cancelled.", reason="ORDER_BUSY")

    @staticmethod
    async def _owned_order(conn, order_id: str, owner: str | None) -> Order:
        order = await repo.get_order(conn, order_id)
        if order is None or (owner is not None and order.user_id != owner):
            raise NotFound("Order not found.", reason="ORDER_NOT_FOUND")
        return order

    # ========================================================================= the engine

    def _lease_token(self) -> str:
        return f"{self.worker_id}:{uuid.uuid4().hex[:12]}"

    def _lease_end(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.lease_seconds)

    async def _claim_and_drive(self, order_id: str, *, due_only: bool) -> None:
        owner = self._lease_token()

        async def claim(uow) -> bool:
            return await repo.claim_saga(
                uow.conn,
                order_id,
                owner=owner,
                now=uow.now,
                lease_until=self._lease_end(uow.now),
                due_only=due_only,
            )

        if await self.db.write(claim, clock=self.clock):
            await self._drive(order_id, owner)

    async def _drive(
        self,
        order_id: str,
        owner: str,
        started: tuple[repo.SagaRecord, Order] | None = None,
    ) -> Order | None:
        """Runs steps while this run holds the lease and the saga has work to do now. Answers
        the order as the last commit left it (None when the run lost or never had the lease).
        The saga and order are read once (or come from the intake that just wrote them); each
        commit hands the next step what it wrote."""
        carry: dict[str, Any] = {}
        if started is None:
            async with self.db.connect() as conn:
                record = await repo.get_saga(conn, order_id)
                order = await repo.get_order(conn, order_id)
        else:
            record, order = started
        if record is None or order is None or record.lease_owner != owner:
            return None
        while record.saga.is_active:
            run = _Run(record, order, carry)
            outcomes: list[_Outcome] = []
            while True:
                step = run.saga.step
                step_started = time.perf_counter()
                outcome = await self._run_step(run)
                outcomes.append(outcome)
                chained = self._chained_run(run, outcome)
                if chained is None:
                    break
                metrics.STEP_DURATION.labels(step.value).observe(time.perf_counter() - step_started)
                run = chained
            committed = await self._commit(record, order, outcomes, owner)
            metrics.STEP_DURATION.labels(step.value).observe(time.perf_counter() - step_started)
            if committed is None:
                return None  # the lease ran out and another run took over
            record, order, go_on = committed
            if not go_on:
                break
        return order

    def _chained_run(self, run: _Run, outcome: _Outcome) -> _Run | None:
        """The run of the next step when it is chained to this one (`domain.CHAINED_STEPS`) and this
        one took effect: what the commit will write, worked out in memory. A resumed chain
        keeps its attempts, so every step of it asks the other service before acting."""
        if outcome.kind is not _Kind.DONE or run.saga.state is not SagaState.RUNNING:
            return None
        follower = domain.CHAINED_STEPS.get(run.saga.step)
        if follower is None:
            return None
        d = self._decide(run.record, run.order, outcome, self.clock(), run.saga.payment_outcome)
        if d.saga.step is not follower or d.saga.state is not SagaState.RUNNING:
            return None
        return _Run(replace(run.record, saga=d.saga), d.order, run.carry)

    async def _run_step(self, run: _Run) -> _Outcome:
        step = run.saga.step
        runner = self._RUNNERS.get(step)
        if runner is None:
            return _done()  # a local step: its effect is written by the commit
        try:
            return await runner(self, run)
        except Exception as exc:
            log.warning(
                "saga step failed: %s %s: %r",
                run.saga.order_id,
                step.value,
                exc,
                extra={"event": "saga_step_error", "order_id": run.saga.order_id},
            )
            if step is SagaStep.AWAIT_PAYMENT and self._wait_over(run):
                return _fail(FailureReason.PAYMENT_TIMEOUT, error=repr(exc)[:500])
            return _retry(repr(exc))

    def _wait_over(self, run: _Run) -> bool:
        deadline = run.saga.wait_until
        return deadline is not None and self.clock() >= deadline

    # ------------------------------------------------------------------ forward steps

    async def _lock_cart(self, run: _Run) -> _Outcome:
        try:
            cart = await self.ports.cart.lock(run.order.user_id, run.order.id)
        except CartLocked:
            return _fail(FailureReason.CART_LOCKED)
        except CartEmpty:
            return _fail(FailureReason.CART_EMPTY)
        run.carry["cart_lines"] = dict(cart.lines)
        return _done(detail={"cart_version": cart.version, "skus": len(cart.lines)})

    async def _price_order(self, run: _Run) -> _Outcome:
        quantities = run.carry.get("cart_lines")
        if quantities is None:
            # A resumed saga: the cart is still locked by this order, so locking it again is
            # a no-op that answers the same lines.
            try:
                quantities = dict(
                    (await self.ports.cart.lock(run.order.user_id, run.order.id)).lines
                )
            except CartLocked:
                return _fail(FailureReason.CART_LOCKED)
            except CartEmpty:
                return _fail(FailureReason.CART_EMPTY)
        if not quantities:
            return _fail(FailureReason.CART_EMPTY)
        variants = await self.ports.catalog.variants(sorted(quantities))
        prices = {
            sku: (
                " ".join(p for p in (v.product_name, v.variant_name) if p) or sku,
                v.price.amount_minor,
                v.price.currency,
            )
            for sku, v in variants.found.items()
            if v.active
        }
        try:
            lines, total, currency = domain.price_lines(quantities, prices)
        except domain.PricingError as exc:
            return _fail(exc.failure, sku=exc.sku)
        expected = run.record.expected_total_minor
        if expected is not None and expected != total:
            return _fail(FailureReason.PRICE_CHANGED, expected=expected, total=total)
        address = run.order.shipping_address
        if run.record.address_id is not None:
            found = await self.ports.identity.address(run.order.user_id, run.record.address_id)
            if found is None:
                return _fail(FailureReason.ADDRESS_NOT_FOUND)
            address = ShippingAddress(
                full_name=found.full_name,
                line1=found.line1,
                line2=found.line2,
                city=found.city,
                region=found.region,
                postal_code=found.postal_code,
                country=found.country,
                phone=found.phone,
                address_id=found.address_id,
            )
        if address is None:
            return _fail(FailureReason.ADDRESS_NOT_FOUND)
        return _done(
            lines=lines,
            total_minor=total,
            currency=currency,
            address=address,
            detail={"total_minor": total, "currency": currency},
        )

    async def _reserve_stock(self, run: _Run) -> _Outcome:
        order = run.order
        if run.record.attempts > 0:  # the reserve may have happened: ask before reserving
            existing = await self.ports.inventory.reservation(order.id)
            if existing is not None:
                return self._reservation_outcome(existing)
        try:
            reservation = await self.ports.inventory.reserve(
                order.id,
                [(line.sku, line.quantity) for line in order.lines],
                self.settings.reservation_ttl_seconds,
            )
        except InsufficientStock as exc:
            return _fail(FailureReason.OUT_OF_STOCK, detail=str(exc))
        except UnknownSku as exc:
            return _fail(FailureReason.PRODUCT_UNAVAILABLE, detail=str(exc))
        except (ReservationMismatch, ReservationClosed) as exc:
            return _fail(FailureReason.RESERVATION_EXPIRED, detail=str(exc))
        return self._reservation_outcome(reservation)

    def _reservation_outcome(self, reservation: Reservation) -> _Outcome:
        if reservation.status in (ReservationStatus.ACTIVE, ReservationStatus.COMMITTED):
            expires_at = reservation.expires_at or self.clock() + timedelta(
                seconds=self.settings.reservation_ttl_seconds
            )
            return _done(
                reservation_expires_at=expires_at,
                detail={"reservation_id": reservation.reservation_id},
            )
        if reservation.status in (ReservationStatus.RELEASED, ReservationStatus.EXPIRED):
            return _fail(FailureReason.RESERVATION_EXPIRED, status=reservation.status.value)
        return _retry(f"reservation in state {reservation.status.value}")

    async def _authorize_payment(self, run: _Run) -> _Outcome:
        order = run.order
        payment = None
        if run.record.attempts > 0:  # the charge may have happened: ask before charging
            payment = await self.ports.payments.payment_for_order(order.id)
        if payment is None:
            payment = await self.ports.payments.charge(
                idempotency_key=f"order:{order.id}:authorize",
                order_id=order.id,
                user_id=order.user_id,
                amount=Money(order.total_minor, order.currency),
                payment_method=run.record.payment_method,
                capture=False,
                description=f"Vanity order {order.id}",
            )
        status = payment.status
        if status in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED):
            return _done(payment=payment, detail={"payment_id": payment.payment_id})
        if status is PaymentStatus.REQUIRES_ACTION:
            return _Outcome(_Kind.WAIT, payment=payment, detail={"payment_id": payment.payment_id})
        if status in (PaymentStatus.FAILED, PaymentStatus.VOIDED, PaymentStatus.REFUNDED):
            return _Outcome(
                _Kind.FAIL,
                reason=_declined_reason(payment.failure_reason),
                payment=payment,
                detail={"payment_failure": payment.failure_reason or status.value},
            )
        return _retry(f"payment {payment.payment_id} is {status.value}")

    async def _await_payment(self, run: _Run) -> _Outcome:
        payment = await self.ports.payments.payment_for_order(run.order.id)
        status = payment.status if payment else None
        if status in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED):
            return _Outcome(_Kind.PAID, payment=payment)
        if status in (PaymentStatus.FAILED, PaymentStatus.VOIDED, PaymentStatus.REFUNDED):
            return _Outcome(
                _Kind.FAIL,
                reason=_declined_reason(payment.failure_reason),
                payment=payment,
                detail={"payment_failure": payment.failure_reason or status.value},
            )
        if self._wait_over(run):
            return _fail(FailureReason.PAYMENT_TIMEOUT)
        return _Outcome(_Kind.STILL_WAITING)

    async def _commit_stock(self, run: _Run) -> _Outcome:
        try:
            await self.ports.inventory.commit(run.order.id)
        except ReservationClosed as exc:
            return _fail(FailureReason.RESERVATION_EXPIRED, detail=str(exc))
        return _done()

    async def _capture_payment(self, run: _Run) -> _Outcome:
        payments = self.ports.payments
        payment_id = run.order.payment_id
        if payment_id is None:
            found = await payments.payment_for_order(run.order.id)
            if found is None:
                return _retry("no payment to capture")
            payment_id = found.payment_id
        try:
            payment = await payments.capture(payment_id)
        except PaymentRefused as exc:
            payment = await payments.payment_for_order(run.order.id)
            if payment is None or payment.status not in (
                PaymentStatus.CAPTURED,
                PaymentStatus.PARTIALLY_REFUNDED,
                PaymentStatus.REFUNDED,
            ):
                return _fail(FailureReason.PAYMENT_CAPTURE_FAILED, detail=str(exc))
        if payment.status is PaymentStatus.AUTHORIZED:
            return _retry("capture did not take effect yet")
        return _done(payment=payment)

    async def _clear_cart(self, run: _Run) -> _Outcome:
        await self.ports.cart.clear(run.order.user_id, run.order.id)
        return _done()

    # ------------------------------------------------------------------ compensations

    async def _void_payment(self, run: _Run) -> _Outcome:
        payments = self.ports.payments
        reason = (run.saga.failure_reason or FailureReason.PAYMENT_DECLINED).value
        payment = await payments.payment_for_order(run.order.id)
        if payment is None:
            return _done(detail={"payment": "none"})
        if payment.status in (
            PaymentStatus.AUTHORIZED,
            PaymentStatus.REQUIRES_ACTION,
            PaymentStatus.PENDING,
        ):
            try:
                payment = await payments.void(payment.payment_id, reason)
            except PaymentRefused as exc:
                return _retry(f"void refused: {exc}")  # it moved meanwhile: ask again
        elif payment.status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
            payment = await payments.refund(
                payment.payment_id, f"order:{run.order.id}:compensate:refund", None, reason
            )
        if payment.status in (PaymentStatus.VOIDED, PaymentStatus.FAILED, PaymentStatus.REFUNDED):
            return _done(payment=payment, detail={"payment": payment.status.value})
        return _retry(f"payment still {payment.status.value}")

    async def _release_stock(self, run: _Run) -> _Outcome:
        reason = (run.saga.failure_reason or FailureReason.OUT_OF_STOCK).value
        try:
            await self.ports.inventory.release(run.order.id, reason)
        except ReservationClosed:
            # Committed: the units left the shelf count; hand them back through a restock.
            return _done(restock_required=True, detail={"restock_required": True})
        return _done()

    async def _unlock_cart(self, run: _Run) -> _Outcome:
        await self.ports.cart.unlock(run.order.user_id, run.order.id)
        return _done()

    _RUNNERS = {
        SagaStep.LOCK_CART: _lock_cart,
        SagaStep.PRICE_ORDER: _price_order,
        SagaStep.RESERVE_STOCK: _reserve_stock,
        SagaStep.AUTHORIZE_PAYMENT: _authorize_payment,
        SagaStep.AWAIT_PAYMENT: _await_payment,
        SagaStep.COMMIT_STOCK: _commit_stock,
        SagaStep.CAPTURE_PAYMENT: _capture_payment,
        SagaStep.CLEAR_CART: _clear_cart,
        SagaStep.VOID_PAYMENT: _void_payment,
        SagaStep.RELEASE_STOCK: _release_stock,
        SagaStep.UNLOCK_CART: _unlock_cart,
        # CONFIRM_ORDER and CLOSE_ORDER are local: the commit writes them.
    }

    # ------------------------------------------------------------------ the commit

    async def _commit(
        self, read: repo.SagaRecord, read_order: Order, outcomes: list[_Outcome], owner: str
    ) -> tuple[repo.SagaRecord, Order, bool] | None:
        """One unit of work: the effects of the steps just run (one, or a chain), the saga's
        next state and the log, fenced on this run's lease and the version it read. Answers
        what it wrote and whether the run goes on; None when the lease was lost."""
        read_version = read.saga.version
        order_id = read.saga.order_id

        async def work(uow) -> tuple[repo.SagaRecord, list[_Decision], Order] | None:
            conn, now = uow.conn, uow.now
            locked = await repo.lock_saga_with_order(conn, order_id, read_order.lines)
            if locked is None:
                return None
            record, order = locked
            if record.lease_owner != owner or record.saga.version != read_version:
                return None
            decisions: list[_Decision] = []
            log: list[dict[str, Any]] = []
            first_order = order
            for outcome in outcomes:  # a chain: each step's decision starts where the last ended
                step = record.saga.step
                decision = self._decide(record, order, outcome, now, read.saga.payment_outcome)
                decisions.append(decision)
                log.extend(
                    repo.log_entry(
                        order_id, event.transition.value, actor=owner, now=now, transition=event
                    )
                    for event in decision.events
                )
                if decision.log_retry:
                    log.append(
                        repo.log_entry(
                            order_id,
                            "step_retry",
                            actor=owner,
                            now=now,
                            detail={
                                "step": step.value,
                                "attempt": decision.attempts,
                                **outcome.detail,
                            },
                        )
                    )
                if decision.lines is not None:
                    await repo.set_lines(conn, order_id, decision.lines)
                record = replace(record, saga=decision.saga, attempts=decision.attempts)
                order = decision.order
            await repo.append_logs(conn, log)
            last = decisions[-1]
            order_written = order
            if order != first_order:
                await repo.update_order(conn, order, now)
                order_written = replace(order, updated_at=now)
            for decision in decisions:
                for kind in decision.emails:
                    await self._publish_email(uow, order, kind, f"{order_id}:{kind}")
                if decision.restock:
                    await uow.publish(
                        RESTOCK_TOPIC,
                        {
                            "order_id": order_id,
                            "lines": [[line.sku, line.quantity] for line in order.lines],
                        },
                        message_id=f"{order_id}:restock",
                    )
            lease_until = self._lease_end(now) if last.go_on else None
            next_attempt_at = lease_until or last.next_attempt_at or now
            saved = await repo.save_saga(
                conn,
                last.saga,
                owner=owner,
                read_version=read_version,
                now=now,
                attempts=last.attempts,
                next_attempt_at=next_attempt_at,
                lease_until=lease_until,
            )
            if not saved:
                return None
            written = replace(
                record,
                saga=replace(last.saga, version=read_version + 1),
                attempts=last.attempts,
                next_attempt_at=next_attempt_at,
                lease_owner=owner if lease_until else None,
                lease_until=lease_until,
            )
            return written, decisions, order_written

        committed = await self.db.write(work, clock=self.clock)
        if committed is None:
            metrics.LOST_LEASES.inc()
            return None
        written, decisions, order_written = committed
        step = read.saga.step
        for decision in decisions:
            _count(decision, step)
            step = decision.saga.step
        return written, order_written, decisions[-1].go_on

    def _decide(
        self,
        record: repo.SagaRecord,
        order: Order,
        outcome: _Outcome,
        now: datetime,
        outcome_seen: str | None,
    ) -> _Decision:
        """Pure: what the outcome of the saga's current step means for the saga and order.
        `outcome_seen`: the reported payment outcome when this run read the saga."""
        stored = record.saga
        saga = domain.wake(stored)
        step = saga.step
        d = _Decision(saga=saga, order=order, attempts=0)
        kind = outcome.kind
        if kind is _Kind.FAIL and saga.state is SagaState.COMPENSATING:
            kind = _Kind.RETRY  # compensations do not fail; they are retried
        if kind is _Kind.FAIL:
            try:
                d.transition(domain.compensate(saga, outcome.reason, **outcome.detail))
            except domain.IllegalTransition:
                kind = _Kind.RETRY  # past the point of no return: only forward
            else:
                if outcome.payment is not None:
                    d.order = replace(
                        d.order,
                        payment_id=outcome.payment.payment_id,
                        payment_status=outcome.payment.status.value,
                    )
                d.go_on = True
                return d
        if kind is _Kind.RETRY:
            d.saga = stored  # a waiting saga stays waiting
            d.attempts = record.attempts + 1
            d.log_retry = True
            # Giving up is for steps whose effect compensation can take back in full. From the
            # commit on, the step is retried until the other service answers: a commit may have
            # happened (a release cannot undo it) and a fresh authorization captures; their
            # real failures (reservation expired, capture refused) are answers, not timeouts.
            may_give_up = saga.state is SagaState.RUNNING and domain.FORWARD_STEPS.index(
                step
            ) < domain.FORWARD_STEPS.index(SagaStep.COMMIT_STOCK)
            if may_give_up and d.attempts >= self.settings.max_forward_attempts:
                d.saga = saga
                d.transition(
                    domain.compensate(saga, FailureReason.DEPENDENCY_UNAVAILABLE, **outcome.detail)
                )
                d.attempts = 0
                d.go_on = True
                return d
            delay = backoff_seconds(
                d.attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds
            )
            d.next_attempt_at = now + timedelta(seconds=delay)
            if stored.state is SagaState.WAITING and stored.wait_until is not None:
                d.next_attempt_at = min(d.next_attempt_at, stored.wait_until)
            return d
        if kind is _Kind.STILL_WAITING:
            if stored.payment_outcome is not None and stored.payment_outcome != outcome_seen:
                d.go_on = True  # an outcome was reported while payments was being asked
                return d
            d.saga = replace(saga, state=SagaState.WAITING, payment_outcome=None)
            d.next_attempt_at = saga.wait_until or now
            return d
        if kind is _Kind.WAIT:
            payment = outcome.payment
            assert payment is not None
            wait_until = saga.wait_until or domain.payment_wait_deadline(
                now + timedelta(seconds=self.settings.reservation_ttl_seconds),
                self.settings.payment_wait_margin_seconds,
            )
            d.transition(domain.wait_for_payment(saga, wait_until, payment_id=payment.payment_id))
            d.order = (
                domain.await_payment(
                    replace(
                        order, payment_id=payment.payment_id, payment_status=payment.status.value
                    ),
                    payment.client_secret,
                )
                if order.status is OrderStatus.PENDING
                else order
            )
            if stored.payment_outcome is not None:
                # An outcome was reported before this synchronous answer: check it now.
                d.saga = domain.wake(d.saga)
                d.go_on = True
            else:
                d.next_attempt_at = wait_until
            return d
        if kind is _Kind.PAID:
            payment = outcome.payment
            assert payment is not None
            d.transition(domain.payment_completed(saga, payment_id=payment.payment_id))
            d.order = replace(order, payment_status=payment.status.value, client_secret=None)
            d.go_on = True
            return d
        # DONE: the step took effect; local steps that follow (confirm, close) need no call,
        # so they are applied in this same commit.
        self._apply_done(d, outcome)
        while d.saga.is_active and d.saga.step in LOCAL_STEPS:
            self._apply_done(d, _done())
        d.go_on = d.saga.is_active
        return d

    def _apply_done(self, d: _Decision, outcome: _Outcome) -> None:
        saga, step = d.saga, d.saga.step
        if saga.state is SagaState.COMPENSATING:
            d.transition(domain.compensation_done(saga, step, **outcome.detail))
            if outcome.payment is not None:
                d.order = replace(d.order, payment_status=outcome.payment.status.value)
            if step is SagaStep.RELEASE_STOCK and outcome.restock_required:
                d.restock = True
            if step is SagaStep.CLOSE_ORDER:
                assert saga.failure_reason is not None
                d.order = domain.close_after_compensation(d.order, saga.failure_reason)
                if d.order.status is OrderStatus.CANCELLED:
                    d.emails.append("cancelled")
            return
        d.transition(domain.step_done(saga, step, **outcome.detail))
        if step is SagaStep.PRICE_ORDER:
            d.lines = outcome.lines
            d.order = replace(
                d.order,
                lines=outcome.lines,
                total_minor=outcome.total_minor,
                currency=outcome.currency,
                shipping_address=outcome.address,
            )
        elif step is SagaStep.RESERVE_STOCK:
            assert outcome.reservation_expires_at is not None
            d.saga = replace(
                d.saga,
                wait_until=domain.payment_wait_deadline(
                    outcome.reservation_expires_at, self.settings.payment_wait_margin_seconds
                ),
            )
        elif step in (SagaStep.AUTHORIZE_PAYMENT, SagaStep.CAPTURE_PAYMENT):
            assert outcome.payment is not None
            d.order = replace(
                d.order,
                payment_id=outcome.payment.payment_id,
                payment_status=outcome.payment.status.value,
            )
        elif step is SagaStep.CONFIRM_ORDER:
            d.order = domain.confirm(d.order)
            d.emails.append("confirmed")

    async def _publish_email(self, uow, order: Order, kind: str, message_id: str) -> None:
        """The e-mail task, written with the change that causes it (sent after the commit)."""
        await uow.publish(
            ORDER_EMAIL_TASK,
            {
                "args": [],
                "kwargs": {
                    "order_id": order.id,
                    "user_id": order.user_id,
                    "kind": kind,
                    "status": order.status.value,
                    "total_minor": order.total_minor,
                    "refunded_minor": order.refunded_minor,
                    "currency": order.currency,
                },
            },
            message_id=_message_id(f"email:{message_id}"),
        )


@dataclass
class _Decision:
    saga: Saga
    order: Order
    attempts: int
    events: list[domain.SagaEvent] = field(default_factory=list)
    lines: tuple[OrderLine, ...] | None = None
    emails: list[str] = field(default_factory=list)
    restock: bool = False
    go_on: bool = False
    log_retry: bool = False
    next_attempt_at: datetime | None = None

    def transition(self, moved: tuple[Saga, domain.SagaEvent]) -> None:
        self.saga, event = moved
        self.events.append(event)


def _count(decision: _Decision, step: SagaStep) -> None:
    """Metrics, once the commit is in (a unit of work may run more than once)."""
    if decision.log_retry:
        metrics.STEP_RETRIES.labels(step.value).inc()
    for event in decision.events:
        metrics.SAGA_TRANSITIONS.labels(event.transition.value, event.to_state.value).inc()
    saga = decision.saga
    if saga.state in (SagaState.COMPLETED, SagaState.FAILED):
        reason = saga.failure_reason.value if saga.state is SagaState.FAILED else ""
        metrics.SAGAS_ENDED.labels(saga.state.value, reason or "").inc()


# Stripe's error code for a 3-D Secure challenge the customer failed (payments keeps it as the
# payment's failure reason).
_AUTHENTICATION_FAILURE = "payment_intent_authentication_failure"


def _declined_reason(payment_failure: str | None) -> FailureReason:
    if payment_failure == _AUTHENTICATION_FAILURE:
        return FailureReason.AUTHENTICATION_FAILED
    return FailureReason.PAYMENT_DECLINED


def _message_id(raw: str) -> str:
    """Message ids are at most 64 characters: longer ones are hashed (deterministically)."""
    return raw if len(raw) <= 64 else hashlib.sha256(raw.encode()).hexdigest()
