"""The order and saga state machines (pure): properties over random sequences of transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vanity_checkout import domain
from vanity_checkout.domain import (
    COMPENSATION_STEPS,
    FORWARD_STEPS,
    ORDER_TRANSITIONS,
    FailureReason,
    IllegalTransition,
    Order,
    OrderStatus,
    OrderTransition,
    SagaState,
    SagaStep,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NON_CANCEL_REASONS = [r for r in FailureReason if r not in domain.CANCELLATION_REASONS]


def new_order(total: int = 5000) -> Order:
    return Order("o-1", "u-1", OrderStatus.PENDING, total, "EUR", T0)


# ================================================================================== order

order_actions = st.one_of(
    st.tuples(st.just("await_payment")),
    st.tuples(st.just("confirm")),
    st.tuples(st.just("fail"), st.sampled_from(NON_CANCEL_REASONS)),
    st.tuples(st.just("cancel"), st.sampled_from(sorted(domain.CANCELLATION_REASONS))),
    st.tuples(st.just("refund"), st.integers(min_value=-10, max_value=6000)),
    st.tuples(st.just("ship"), st.sampled_from(["TRK1", "  ", "X9"])),
)


def apply_order(order: Order, action: tuple) -> Order:
    name, *args = action
    if name == "await_payment":
        return domain.await_payment(order, "secret")
    if name == "confirm":
        return domain.confirm(order)
    if name == "fail":
        return domain.fail(order, args[0])
    if name == "cancel":
        return domain.cancel(order, args[0])
    if name == "refund":
        return domain.refund(order, args[0])
    return domain.ship(order, args[0], "carrier")


@settings(max_examples=300, deadline=None)
@given(st.lists(order_actions, max_size=12), st.integers(min_value=1, max_value=5000))
def test_order_moves_only_along_named_transitions_and_money_adds_up(actions, total):
    order = new_order(total)
    for action in actions:
        before = order
        try:
            order = apply_order(order, action)
        except (IllegalTransition, domain.InvalidRefund, ValueError):
            continue  # refused: nothing changed (values are immutable)
        allowed = {
            target for sources, target in ORDER_TRANSITIONS.values() if before.status in sources
        }
        assert order.status in allowed
        assert before.status not in domain.TERMINAL_ORDER_STATUSES
        assert 0 <= order.refunded_minor <= order.total_minor
        assert (order.status is OrderStatus.REFUNDED) == (
            order.refunded_minor == order.total_minor > 0
        )
        if order.status in (OrderStatus.FAILED, OrderStatus.CANCELLED):
            assert order.failure_reason is not None
            assert order.client_secret is None
        if order.status is OrderStatus.SHIPPED:
            assert order.tracking_number and order.tracking_number.strip()


@pytest.mark.parametrize("transition", list(OrderTransition))
def test_every_order_transition_is_refused_from_every_other_state(transition):
    sources, _target = ORDER_TRANSITIONS[transition]
    for status in set(OrderStatus) - sources:
        order = Order("o", "u", status, 100, "EUR", T0, tracking_number="T")
        with pytest.raises((IllegalTransition, domain.InvalidRefund)):
            {
                OrderTransition.AWAIT_PAYMENT: lambda o: domain.await_payment(o, None),
                OrderTransition.CONFIRM: domain.confirm,
                OrderTransition.FAIL: lambda o: domain.fail(o, FailureReason.OUT_OF_STOCK),
                OrderTransition.CANCEL: lambda o: domain.cancel(
                    o, FailureReason.CANCELLED_BY_CUSTOMER
                ),
                OrderTransition.REFUND_IN_PART: lambda o: domain.refund(o, 1),
                OrderTransition.REFUND_IN_FULL: lambda o: domain.refund(o, 100),
                OrderTransition.SHIP: lambda o: domain.ship(o, "T", ""),
            }[transition](order)


def test_pricing_trusts_the_catalog_and_sorts_lines():
    lines, total, currency = domain.price_lines(
        {"B": 2, "A": 1}, {"A": ("Alpha", 100, "EUR"), "B": ("Beta", 250, "EUR")}
    )
    assert [line.sku for line in lines] == ["A", "B"]
    assert (total, currency) == (600, "EUR")
    with pytest.raises(domain.PricingError) as missing:
        domain.price_lines({"A": 1, "Z": 1}, {"A": ("Alpha", 100, "EUR")})
    assert missing.value.failure is FailureReason.PRODUCT_UNAVAILABLE
    with pytest.raises(domain.PricingError) as mixed:
        domain.price_lines({"A": 1, "B": 1}, {"A": ("a", 1, "EUR"), "B": ("b", 1, "USD")})
    assert mixed.value.failure is FailureReason.MIXED_CURRENCIES


# =================================================================================== saga

saga_actions = st.lists(
    st.one_of(
        st.just(("advance",)),
        st.tuples(st.just("compensate"), st.sampled_from(list(FailureReason))),
        st.just(("wait",)),
        st.just(("paid",)),
        st.just(("wake",)),
        st.tuples(st.just("reopen"), st.sampled_from(list(FailureReason))),
    ),
    max_size=40,
)


def apply_saga(saga: domain.Saga, action: tuple):
    name, *args = action
    if name == "advance":
        if saga.state is SagaState.COMPENSATING:
            return domain.compensation_done(saga, saga.step)
        return domain.step_done(saga, saga.step)
    if name == "compensate":
        return domain.compensate(saga, args[0])
    if name == "wait":
        return domain.wait_for_payment(saga, T0 + timedelta(minutes=14))
    if name == "paid":
        return domain.payment_completed(saga)
    if name == "wake":
        return domain.wake(saga), None
    return domain.reopen_for_cancellation(saga, args[0])


@settings(max_examples=500, deadline=None)
@given(saga_actions)
def test_saga_never_compensates_after_capture_and_always_undoes_what_it_reached(actions):
    saga = domain.start_saga("o-1")
    forward_seen = [saga.step]
    compensations_seen: list[SagaStep] = []
    for action in actions:
        before = saga
        try:
            saga, event = apply_saga(saga, action)
        except IllegalTransition:
            continue
        if event is not None:  # every logged move says where it came from and went
            assert (event.from_state, event.from_step) == (before.state, before.step)
            assert (event.to_state, event.to_step) == (saga.state, saga.step)
        if action[0] == "compensate":
            # Only before the point of no return, and the plan covers the step it was at.
            assert FORWARD_STEPS.index(before.step) < FORWARD_STEPS.index(domain.POINT_OF_NO_RETURN)
            # The plan covers the step it was at and whatever the chain it heads may have done.
            assert saga.compensate_from is domain.may_have_reached(before.step)
            plan = domain.compensation_plan(saga.compensate_from)
            assert plan[-1] is SagaStep.CLOSE_ORDER
            reached = FORWARD_STEPS.index(saga.compensate_from)
            assert reached >= FORWARD_STEPS.index(before.step)
            authorized = reached >= FORWARD_STEPS.index(SagaStep.AUTHORIZE_PAYMENT)
            reserved = reached >= FORWARD_STEPS.index(SagaStep.RESERVE_STOCK)
            assert (SagaStep.VOID_PAYMENT in plan) == authorized
            assert (SagaStep.RELEASE_STOCK in plan) == reserved
            assert SagaStep.UNLOCK_CART in plan
        if saga.state is SagaState.COMPENSATING:
            if not compensations_seen or compensations_seen[-1] is not saga.step:
                compensations_seen.append(saga.step)
        elif saga.state in (SagaState.RUNNING, SagaState.WAITING) and (
            saga.step is not forward_seen[-1]
        ):
            forward_seen.append(saga.step)
        if saga.state is SagaState.FAILED:
            assert compensations_seen and compensations_seen[-1] is SagaStep.CLOSE_ORDER
        if saga.state is SagaState.COMPLETED:
            assert forward_seen[-1] is SagaStep.CLEAR_CART
    # Forward steps only ever move forward, in the documented order.
    indexes = [FORWARD_STEPS.index(s) for s in forward_seen]
    assert indexes == sorted(indexes)
    # Compensations run in plan order (only one plan: a failed saga is never reopened).
    positions = [COMPENSATION_STEPS.index(s) for s in compensations_seen]
    assert positions == sorted(positions)


def test_a_failure_at_a_chain_head_undoes_what_the_chain_may_have_done():
    """The orchestrator runs reserve + authorize with one commit: a saga recorded at the
    reserve may hold an authorization, so failing there voids too."""
    saga = domain.start_saga("o")
    while saga.step is not SagaStep.RESERVE_STOCK:
        saga, _ = domain.step_done(saga, saga.step)
    failed, _ = domain.compensate(saga, FailureReason.OUT_OF_STOCK)
    assert failed.compensate_from is SagaStep.AUTHORIZE_PAYMENT
    assert domain.compensation_plan(failed.compensate_from)[:2] == (
        SagaStep.VOID_PAYMENT,
        SagaStep.RELEASE_STOCK,
    )
    assert domain.may_have_reached(SagaStep.LOCK_CART) is SagaStep.PRICE_ORDER
    # Capture is chained on to the cart clear, past the point of no return: not compensated.
    assert domain.may_have_reached(SagaStep.COMMIT_STOCK) is SagaStep.CAPTURE_PAYMENT
    assert domain.may_have_reached(SagaStep.AWAIT_PAYMENT) is SagaStep.AWAIT_PAYMENT


def test_the_happy_path_names_every_forward_step_but_the_wait():
    saga = domain.start_saga("o")
    steps = []
    while saga.state is SagaState.RUNNING:
        steps.append(saga.step)
        saga, _ = domain.step_done(saga, saga.step)
    assert steps == [s for s in FORWARD_STEPS if s is not SagaStep.AWAIT_PAYMENT]
    assert (saga.state, saga.step) == (SagaState.COMPLETED, SagaStep.DONE)


def test_three_d_secure_waits_then_continues_at_commit():
    saga = domain.start_saga("o")
    for _ in range(3):
        saga, _ = domain.step_done(saga, saga.step)
    assert saga.step is SagaStep.AUTHORIZE_PAYMENT
    saga, _ = domain.wait_for_payment(saga, T0)
    assert (saga.state, saga.step, saga.wait_until) == (
        SagaState.WAITING,
        SagaStep.AWAIT_PAYMENT,
        T0,
    )
    with pytest.raises(IllegalTransition):
        domain.step_done(saga, saga.step)
    saga, _ = domain.payment_completed(domain.wake(saga))
    assert (saga.state, saga.step, saga.wait_until) == (
        SagaState.RUNNING,
        SagaStep.COMMIT_STOCK,
        None,
    )


def test_cancelling_a_completed_saga_refunds_releases_and_closes():
    saga = domain.start_saga("o")
    while saga.state is SagaState.RUNNING:
        saga, _ = domain.step_done(saga, saga.step)
    with pytest.raises(IllegalTransition):
        domain.reopen_for_cancellation(saga, FailureReason.OUT_OF_STOCK)
    saga, _ = domain.reopen_for_cancellation(saga, FailureReason.CANCELLED_BY_ADMIN)
    steps = []
    while saga.state is SagaState.COMPENSATING:
        steps.append(saga.step)
        saga, _ = domain.compensation_done(saga, saga.step)
    assert steps == list(COMPENSATION_STEPS)
    assert saga.state is SagaState.FAILED
