"""Pure checkout rules: the order's life and the checkout saga's, as two state machines.

No I/O here. Every change of state is a named transition: a function that takes the current
value and returns the next one, or raises `IllegalTransition`. The orchestrator (`saga.py`)
performs the remote calls and persists what these functions decide.

Order (what the customer and the admins see)::

    pending ──await_payment──▶ awaiting_payment
    pending | awaiting_payment ──confirm──▶ confirmed
    pending | awaiting_payment ──fail(reason)──▶ failed
    awaiting_payment | confirmed ──cancel──▶ cancelled
    confirmed | partially_refunded | shipped ──refund_in_part──▶ partially_refunded
    confirmed | partially_refunded | shipped ──refund_in_full──▶ refunded
    confirmed | partially_refunded ──ship(tracking)──▶ shipped

Saga (how checkout gets there; see `saga.py` for why the steps come in this order)::

    running: lock_cart → price_order → reserve_stock → authorize_payment
             → [await_payment: waiting for 3-D Secure] → commit_stock → capture_payment
             → confirm_order → clear_cart → completed
    compensating (from the furthest forward step the saga reached, in reverse):
             void_payment → release_stock → unlock_cart → close_order → failed

A forward step may have taken effect even when its call failed (a deadline exceeded), so the
compensation plan covers the step the saga was at, not just the ones it finished: every
compensation is a no-op on a service that never saw the forward call. Once the payment is
captured (the saga is at `confirm_order` or later) there is no going back: the saga only moves
forward; undoing a paid order is a cancellation or a refund, which start from `completed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class DomainError(Exception):
    reason = "DOMAIN_ERROR"


class IllegalTransition(DomainError):
    reason = "ILLEGAL_TRANSITION"

    def __init__(self, machine: str, transition: str, state: str) -> None:
        super().__init__(f"Cannot {transition} a {machine} that is {state}.")
        self.machine = machine
        self.transition = transition
        self.state = state


class InvalidRefund(DomainError):
    reason = "INVALID_REFUND"


# =============================================================================== the order


class OrderStatus(StrEnum):
    PENDING = "pending"
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    SHIPPED = "shipped"


class FailureReason(StrEnum):
    """Why an order failed; stable codes the API reports as `failure_reason`."""

    CART_EMPTY = "cart_empty"
    CART_LOCKED = "cart_locked"  # another checkout holds the cart
    PRODUCT_UNAVAILABLE = "product_unavailable"  # unknown to catalog or not on sale
    PRICE_CHANGED = "price_changed"  # the client's expected total is not the catalog's
    MIXED_CURRENCIES = "mixed_currencies"
    ADDRESS_NOT_FOUND = "address_not_found"
    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_DECLINED = "payment_declined"
    AUTHENTICATION_FAILED = "authentication_failed"  # the customer failed 3-D Secure
    PAYMENT_TIMEOUT = "payment_timeout"  # 3-D Secure not completed before the reservation TTL
    RESERVATION_EXPIRED = "reservation_expired"  # stock reclaimed before it was committed
    PAYMENT_CAPTURE_FAILED = "payment_capture_failed"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"  # gave up retrying a forward step
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
    CANCELLED_BY_ADMIN = "cancelled_by_admin"


CANCELLATION_REASONS = frozenset(
    {FailureReason.CANCELLED_BY_CUSTOMER, FailureReason.CANCELLED_BY_ADMIN}
)


class OrderTransition(StrEnum):
    AWAIT_PAYMENT = "await_payment"
    CONFIRM = "confirm"
    FAIL = "fail"
    CANCEL = "cancel"
    REFUND_IN_PART = "refund_in_part"
    REFUND_IN_FULL = "refund_in_full"
    SHIP = "ship"


_S = OrderStatus
ORDER_TRANSITIONS: dict[OrderTransition, tuple[frozenset[OrderStatus], OrderStatus]] = {
    OrderTransition.AWAIT_PAYMENT: (frozenset({_S.PENDING}), _S.AWAITING_PAYMENT),
    OrderTransition.CONFIRM: (frozenset({_S.PENDING, _S.AWAITING_PAYMENT}), _S.CONFIRMED),
    OrderTransition.FAIL: (frozenset({_S.PENDING, _S.AWAITING_PAYMENT}), _S.FAILED),
    OrderTransition.CANCEL: (frozenset({_S.AWAITING_PAYMENT, _S.CONFIRMED}), _S.CANCELLED),
    OrderTransition.REFUND_IN_PART: (
        frozenset({_S.CONFIRMED, _S.PARTIALLY_REFUNDED, _S.SHIPPED}),
        _S.PARTIALLY_REFUNDED,
    ),
    OrderTransition.REFUND_IN_FULL: (
        frozenset({_S.CONFIRMED, _S.PARTIALLY_REFUNDED, _S.SHIPPED}),
        _S.REFUNDED,
    ),
    OrderTransition.SHIP: (frozenset({_S.CONFIRMED, _S.PARTIALLY_REFUNDED}), _S.SHIPPED),
}
TERMINAL_ORDER_STATUSES = frozenset({_S.FAILED, _S.CANCELLED, _S.REFUNDED})


@dataclass(frozen=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price_minor: int
    currency: str

    @property
    def total_minor(self) -> int:
        return self.unit_price_minor * self.quantity


@dataclass(frozen=True)
class ShippingAddress:
    full_name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""
    phone: str = ""
    address_id: str | None = None  # the identity address it was copied from, if any


@dataclass(frozen=True)
class Order:
    id: str
    user_id: str
    status: OrderStatus
    total_minor: int
    currency: str
    created_at: datetime
    lines: tuple[OrderLine, ...] = ()
    payment_id: str | None = None
    failure_reason: FailureReason | None = None
    refunded_minor: int = 0
    shipping_address: ShippingAddress | None = None
    payment_status: str | None = None
    client_secret: str | None = None  # while awaiting_payment: lets the client do 3-D Secure
    tracking_number: str | None = None
    carrier: str | None = None
    updated_at: datetime | None = None


def _order_step(order: Order, transition: OrderTransition, **changes) -> Order:
    sources, target = ORDER_TRANSITIONS[transition]
    if order.status not in sources:
        raise IllegalTransition("order", transition.value, order.status.value)
    return replace(order, status=target, **changes)


def await_payment(order: Order, client_secret: str | None) -> Order:
    return _order_step(order, OrderTransition.AWAIT_PAYMENT, client_secret=client_secret)


def confirm(order: Order) -> Order:
    return _order_step(order, OrderTransition.CONFIRM, client_secret=None)


def fail(order: Order, reason: FailureReason) -> Order:
    return _order_step(order, OrderTransition.FAIL, failure_reason=reason, client_secret=None)


def cancel(order: Order, reason: FailureReason) -> Order:
    if reason not in CANCELLATION_REASONS:
        raise ValueError(f"{reason} is not a cancellation")
    return _order_step(order, OrderTransition.CANCEL, failure_reason=reason, client_secret=None)


def refund(order: Order, amount_minor: int) -> Order:
    """Refunds `amount_minor` more: in full when nothing remains, else in part."""
    remaining = order.total_minor - order.refunded_minor
    if amount_minor <= 0 or amount_minor > remaining:
        raise InvalidRefund(f"A refund is 1..{remaining} minor units for this order.")
    refunded = order.refunded_minor + amount_minor
    transition = (
        OrderTransition.REFUND_IN_FULL
        if refunded == order.total_minor
        else OrderTransition.REFUND_IN_PART
    )
    return _order_step(order, transition, refunded_minor=refunded)


def ship(order: Order, tracking_number: str, carrier: str) -> Order:
    if not tracking_number.strip():
        raise ValueError("a shipment needs a tracking number")
    return _order_step(
        order, OrderTransition.SHIP, tracking_number=tracking_number.strip(), carrier=carrier
    )


def close_after_compensation(order: Order, reason: FailureReason) -> Order:
    """The last compensation: a cancellation ends `cancelled`, anything else `failed`."""
    return cancel(order, reason) if reason in CANCELLATION_REASONS else fail(order, reason)


def price_lines(
    quantities: dict[str, int], prices: dict[str, tuple[str, int, str]]
) -> tuple[tuple[OrderLine, ...], int, str]:
    """Order lines from the cart's quantities and catalog's (name, unit price, currency) per
    SKU, sorted by SKU; the total and its currency. Raises `PricingError` when a SKU is not on
    sale or the currencies differ (never trusts a price the client sent)."""
    if not quantities:
        raise PricingError(FailureReason.CART_EMPTY)
    lines = []
    for sku in sorted(quantities):
        if sku not in prices:
            raise PricingError(FailureReason.PRODUCT_UNAVAILABLE, sku)
        name, unit_price_minor, currency = prices[sku]
        lines.append(OrderLine(sku, name, quantities[sku], unit_price_minor, currency))
    currencies = {line.currency for line in lines}
    if len(currencies) != 1:
        raise PricingError(FailureReason.MIXED_CURRENCIES)
    return tuple(lines), sum(line.total_minor for line in lines), currencies.pop()


class PricingError(DomainError):
    reason = "PRICING"

    def __init__(self, failure: FailureReason, sku: str | None = None) -> None:
        super().__init__(failure.value + (f": {sku}" if sku else ""))
        self.failure = failure
        self.sku = sku


# ================================================================================ the saga


class SagaState(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"  # for the customer (3-D Secure); woken by an outcome or the deadline
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    FAILED = "failed"  # compensated; the order is failed or cancelled


ACTIVE_SAGA_STATES = frozenset({SagaState.RUNNING, SagaState.WAITING, SagaState.COMPENSATING})


class SagaStep(StrEnum):
    # forward
    LOCK_CART = "lock_cart"
    PRICE_ORDER = "price_order"
    RESERVE_STOCK = "reserve_stock"
    AUTHORIZE_PAYMENT = "authorize_payment"
    AWAIT_PAYMENT = "await_payment"
    COMMIT_STOCK = "commit_stock"
    CAPTURE_PAYMENT = "capture_payment"
    CONFIRM_ORDER = "confirm_order"
    CLEAR_CART = "clear_cart"
    # compensations
    VOID_PAYMENT = "void_payment"  # refunds instead when the payment was captured
    RELEASE_STOCK = "release_stock"
    UNLOCK_CART = "unlock_cart"
    CLOSE_ORDER = "close_order"
    # the end
    DONE = "done"


FORWARD_STEPS: tuple[SagaStep, ...] = (
    SagaStep.LOCK_CART,
    SagaStep.PRICE_ORDER,
    SagaStep.RESERVE_STOCK,
    SagaStep.AUTHORIZE_PAYMENT,
    SagaStep.AWAIT_PAYMENT,
    SagaStep.COMMIT_STOCK,
    SagaStep.CAPTURE_PAYMENT,
    SagaStep.CONFIRM_ORDER,
    SagaStep.CLEAR_CART,
)
COMPENSATION_STEPS: tuple[SagaStep, ...] = (
    SagaStep.VOID_PAYMENT,
    SagaStep.RELEASE_STOCK,
    SagaStep.UNLOCK_CART,
    SagaStep.CLOSE_ORDER,
)
# The forward step whose (possible) effect each compensation undoes; CLOSE_ORDER always runs.
UNDOES: dict[SagaStep, SagaStep] = {
    SagaStep.VOID_PAYMENT: SagaStep.AUTHORIZE_PAYMENT,
    SagaStep.RELEASE_STOCK: SagaStep.RESERVE_STOCK,
    SagaStep.UNLOCK_CART: SagaStep.LOCK_CART,
}
# From here on the payment may be captured and the stock committed: no compensation.
POINT_OF_NO_RETURN = SagaStep.CONFIRM_ORDER
# Forward steps the orchestrator runs back to back, with one commit after the chain (fewer
# round trips to the database per order). Safe because every call is keyed by the order id: a
# crash inside a chain resumes at its head and each repeated call answers what the first one
# did. While the saga is recorded at a chain's head, the steps after it may have taken effect,
# so a failure there is compensated as far as the chain reaches. Pricing is committed before
# the reserve: the lines reserved and the amount authorized are the ones written on the order.
CHAINED_STEPS: dict[SagaStep, SagaStep] = {
    SagaStep.LOCK_CART: SagaStep.PRICE_ORDER,
    SagaStep.RESERVE_STOCK: SagaStep.AUTHORIZE_PAYMENT,
    SagaStep.COMMIT_STOCK: SagaStep.CAPTURE_PAYMENT,
    SagaStep.CAPTURE_PAYMENT: SagaStep.CLEAR_CART,  # via CONFIRM_ORDER, written by the commit
}


def _forward_index(step: SagaStep) -> int:
    return FORWARD_STEPS.index(step)


class SagaTransition(StrEnum):
    STEP_DONE = "step_done"  # a forward step took effect: on to the next
    WAIT_FOR_PAYMENT = "wait_for_payment"  # authorize answered requires_action
    PAYMENT_COMPLETED = "payment_completed"  # the waiting payment is authorized
    COMPENSATE = "compensate"  # a forward step failed for good: undo what may have happened
    COMPENSATION_DONE = "compensation_done"
    REOPEN_FOR_CANCELLATION = "reopen_for_cancellation"  # a completed saga is cancelled


@dataclass(frozen=True)
class Saga:
    order_id: str
    state: SagaState
    step: SagaStep
    failure_reason: FailureReason | None = None
    # compensating: the furthest forward step reached, which decides the plan
    compensate_from: SagaStep | None = None
    payment_outcome: str | None = None  # reported asynchronously, not yet acted on
    wait_until: datetime | None = None  # waiting: when the customer's time runs out
    version: int = 0

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_SAGA_STATES


@dataclass(frozen=True)
class SagaEvent:
    """One row of the append-only saga log."""

    transition: SagaTransition
    from_state: SagaState
    from_step: SagaStep
    to_state: SagaState
    to_step: SagaStep
    detail: dict = field(default_factory=dict)


def start_saga(order_id: str) -> Saga:
    return Saga(order_id, SagaState.RUNNING, SagaStep.LOCK_CART)


def _illegal(saga: Saga, transition: SagaTransition) -> IllegalTransition:
    return IllegalTransition("saga", transition.value, f"{saga.state.value}/{saga.step.value}")


def _moved(
    saga: Saga, transition: SagaTransition, detail: dict, **changes
) -> tuple[Saga, SagaEvent]:
    new = replace(saga, **changes)
    event = SagaEvent(transition, saga.state, saga.step, new.state, new.step, detail)
    return new, event


def step_done(saga: Saga, step: SagaStep, **detail) -> tuple[Saga, SagaEvent]:
    """The forward `step` (the one the saga is at) took effect."""
    t = SagaTransition.STEP_DONE
    if saga.state is not SagaState.RUNNING or saga.step is not step or step not in FORWARD_STEPS:
        raise _illegal(saga, t)
    if step is SagaStep.AWAIT_PAYMENT:
        raise _illegal(saga, t)  # a payment completes through payment_completed
    if step is SagaStep.CLEAR_CART:
        return _moved(saga, t, detail, state=SagaState.COMPLETED, step=SagaStep.DONE)
    following = FORWARD_STEPS[_forward_index(step) + 1]
    if following is SagaStep.AWAIT_PAYMENT:  # authorized straight away: no waiting
        following = SagaStep.COMMIT_STOCK
    return _moved(saga, t, detail, step=following)


def wait_for_payment(saga: Saga, wait_until: datetime, **detail) -> tuple[Saga, SagaEvent]:
    """Authorize answered requires_action: wait for the customer until `wait_until`. An outcome
    that was already reported stays recorded and wakes the saga at once (the orchestrator)."""
    t = SagaTransition.WAIT_FOR_PAYMENT
    if saga.state is not SagaState.RUNNING or saga.step not in (
        SagaStep.AUTHORIZE_PAYMENT,
        SagaStep.AWAIT_PAYMENT,
    ):
        raise _illegal(saga, t)
    return _moved(
        saga, t, detail, state=SagaState.WAITING, step=SagaStep.AWAIT_PAYMENT, wait_until=wait_until
    )


def wake(saga: Saga) -> Saga:
    """A waiting saga is picked up again (an outcome arrived, or its deadline passed): it runs
    the await_payment step, which asks payments for the truth. Not logged: nothing changed yet."""
    if saga.state is not SagaState.WAITING:
        return saga
    return replace(saga, state=SagaState.RUNNING)


def payment_completed(saga: Saga, **detail) -> tuple[Saga, SagaEvent]:
    t = SagaTransition.PAYMENT_COMPLETED
    if saga.step is not SagaStep.AWAIT_PAYMENT or saga.state not in (
        SagaState.RUNNING,
        SagaState.WAITING,
    ):
        raise _illegal(saga, t)
    return _moved(
        saga,
        t,
        detail,
        state=SagaState.RUNNING,
        step=SagaStep.COMMIT_STOCK,
        wait_until=None,
        payment_outcome=None,
    )


def may_have_reached(step: SagaStep) -> SagaStep:
    """The furthest step that may have taken effect while the saga is recorded at `step`: the
    end of the chain it heads (`CHAINED_STEPS`), short of the point of no return."""
    limit = _forward_index(POINT_OF_NO_RETURN)
    while (following := CHAINED_STEPS.get(step)) is not None and _forward_index(following) < limit:
        step = following
    return step


def compensation_plan(compensate_from: SagaStep) -> tuple[SagaStep, ...]:
    """The compensations for a saga that reached `compensate_from`, in the order they run:
    money first (a held authorization costs the customer), then stock, the cart, the order."""
    reached = _forward_index(compensate_from)
    return tuple(
        step
        for step in COMPENSATION_STEPS
        if step not in UNDOES or _forward_index(UNDOES[step]) <= reached
    )


def compensate(saga: Saga, reason: FailureReason, **detail) -> tuple[Saga, SagaEvent]:
    """A forward step failed for good: undo everything from the step the saga is at back."""
    t = SagaTransition.COMPENSATE
    if saga.state not in (SagaState.RUNNING, SagaState.WAITING) or _forward_index(
        saga.step
    ) >= _forward_index(POINT_OF_NO_RETURN):
        raise _illegal(saga, t)
    reached = may_have_reached(saga.step)
    plan = compensation_plan(reached)
    return _moved(
        saga,
        t,
        {"reason": reason.value, **detail},
        state=SagaState.COMPENSATING,
        step=plan[0],
        failure_reason=reason,
        compensate_from=reached,
        wait_until=None,
    )


def compensation_done(saga: Saga, step: SagaStep, **detail) -> tuple[Saga, SagaEvent]:
    t = SagaTransition.COMPENSATION_DONE
    if saga.state is not SagaState.COMPENSATING or saga.step is not step:
        raise _illegal(saga, t)
    assert saga.compensate_from is not None
    plan = compensation_plan(saga.compensate_from)
    position = plan.index(step)
    if position == len(plan) - 1:
        return _moved(saga, t, detail, state=SagaState.FAILED, step=SagaStep.DONE)
    return _moved(saga, t, detail, step=plan[position + 1])


def reopen_for_cancellation(saga: Saga, reason: FailureReason, **detail) -> tuple[Saga, SagaEvent]:
    """A completed (paid) order is cancelled: refund the payment and hand the stock back
    (release answers that it was committed; restocking is logged), then close the order."""
    t = SagaTransition.REOPEN_FOR_CANCELLATION
    if saga.state is not SagaState.COMPLETED or reason not in CANCELLATION_REASONS:
        raise _illegal(saga, t)
    return _moved(
        saga,
        t,
        {"reason": reason.value, **detail},
        state=SagaState.COMPENSATING,
        step=SagaStep.VOID_PAYMENT,
        failure_reason=reason,
        compensate_from=SagaStep.CAPTURE_PAYMENT,  # the cart was cleared: nothing to unlock
    )


def payment_wait_deadline(reservation_expires_at: datetime, margin_seconds: int) -> datetime:
    """When a 3-D Secure wait ends: before the reservation lapses, so that a payment completed
    at the last moment still finds its stock held when the saga commits it."""
    return reservation_expires_at - timedelta(seconds=margin_seconds)
