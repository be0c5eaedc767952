"""The payment state machine, proved with hypothesis.

- A stateful test fires every transition at random: each succeeds exactly when the rules allow it,
  refuses with the right error otherwise (changing nothing), and the ledger replays to the payment.
- Reconciliation is driven by the mock's Stripe-like intent (`MockIntent`), through Stripe's JSON
  and the adapter's snapshot: reconciling after every provider step or once at the end reaches the
  same payment, and reconciling twice adds nothing (duplicates and late webhooks are harmless).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from vanity_payments import domain
from vanity_payments.domain import (
    CAPTURED_STATUSES,
    FINAL_STATUSES,
    OPEN_STATUSES,
    Cause,
    DomainError,
    PaymentStatus,
    Transition,
)
from vanity_payments.providers import CaptureMethod
from vanity_payments.providers.mock import (
    TEST_PAYMENT_METHODS,
    MockIntent,
    MockStripeError,
)
from vanity_payments.providers.stripe import intent_snapshot

AMOUNT = 10_000
CAUSE = Cause(actor="test", reason="property")


def fresh_payment(amount: int = AMOUNT) -> domain.Payment:
    return domain.new_payment(
        payment_id="pay-1", order_id="order-1", amount_minor=amount, currency="EUR", provider="mock"
    )


amounts = st.one_of(st.none(), st.integers(min_value=-5, max_value=AMOUNT + 500))


class PaymentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.initial = fresh_payment()
        self.payment = self.initial
        self.ledger: list[domain.PaymentEvent] = []

    def attempt(self, transition, run, allowed: bool, refusal: type[DomainError] | None = None):
        before = self.payment
        if not allowed:
            with pytest.raises(refusal or DomainError):
                run(before)
            return
        step = run(before)
        assert before.status in domain.SOURCES[transition]
        assert step.event.transition is transition
        assert step.event.from_status is before.status
        assert step.event.to_status is step.payment.status
        assert step.event.payment_id == before.id
        assert step.event.actor == CAUSE.actor
        self.payment = step.payment
        self.ledger.append(step.event)

    @rule(secret=st.sampled_from([None, "pi_1_secret_x"]))
    def require_action(self, secret):
        self.attempt(
            Transition.REQUIRE_ACTION,
            lambda p: domain.require_action(p, CAUSE, secret),
            self.payment.status is PaymentStatus.PENDING,
            domain.IllegalTransition,
        )

    @rule()
    def authorize(self):
        self.attempt(
            Transition.AUTHORIZE,
            lambda p: domain.authorize(p, CAUSE),
            self.payment.status in OPEN_STATUSES,
            domain.IllegalTransition,
        )

    @rule(amount=amounts)
    def charge(self, amount):
        legal_amount = amount is None or 0 < amount <= self.payment.amount_minor
        self.attempt(
            Transition.CHARGE,
            lambda p: domain.charge(p, CAUSE, amount),
            self.payment.status in OPEN_STATUSES and legal_amount,
        )

    @rule(amount=amounts)
    def capture(self, amount):
        legal_amount = amount is None or 0 < amount <= self.payment.amount_minor
        status = self.payment.status
        refusal = (
            domain.IllegalTransition
            if status is not PaymentStatus.AUTHORIZED
            else (domain.CaptureExceedsAuthorized if amount and amount > 0 else domain.InvalidInput)
        )
        self.attempt(
            Transition.CAPTURE,
            lambda p: domain.capture(p, CAUSE, amount),
            status is PaymentStatus.AUTHORIZED and legal_amount,
            refusal,
        )

    @rule()
    def void(self):
        status = self.payment.status
        money_moved = status in CAPTURED_STATUSES or status is PaymentStatus.REFUNDED
        self.attempt(
            Transition.VOID,
            lambda p: domain.void(p, CAUSE),
            status is PaymentStatus.AUTHORIZED,
            domain.PaymentAlreadyCaptured if money_moved else domain.IllegalTransition,
        )

    @rule(reason=st.sampled_from(["card_declined", "insufficient_funds", ""]))
    def fail(self, reason):
        self.attempt(
            Transition.FAIL,
            lambda p: domain.fail(p, CAUSE, reason),
            self.payment.status in OPEN_STATUSES,
            domain.IllegalTransition,
        )

    @rule(amount=amounts)
    def refund(self, amount):
        status = self.payment.status
        remainder = self.payment.refundable_minor
        if status in OPEN_STATUSES or status is PaymentStatus.AUTHORIZED:
            refusal: type[DomainError] = domain.PaymentNotCaptured
        elif status not in CAPTURED_STATUSES:
            refusal = domain.IllegalTransition
        elif amount is not None and amount <= 0:
            refusal = domain.InvalidInput
        else:
            refusal = domain.RefundExceedsCaptured
        self.attempt(
            Transition.REFUND,
            lambda p: domain.refund(p, CAUSE, amount),
            status in CAPTURED_STATUSES and (amount is None or 0 < amount <= remainder),
            refusal,
        )

    @rule(delta=st.integers(min_value=-2, max_value=2))
    def refund_around_the_remainder(self, delta):
        """Boundary amounts: random amounts rarely hit the remainder exactly."""
        if self.payment.status in CAPTURED_STATUSES and self.payment.refundable_minor + delta > 0:
            self.refund(self.payment.refundable_minor + delta)

    @rule(delta=st.integers(min_value=-1, max_value=1))
    def capture_around_the_authorized_amount(self, delta):
        self.capture(self.payment.amount_minor + delta)

    @invariant()
    def money_is_bounded(self):
        p = self.payment
        assert 0 <= p.refunded_minor <= p.captured_minor <= p.amount_minor

    @invariant()
    def status_matches_the_money(self):
        p = self.payment
        if p.status in OPEN_STATUSES | {PaymentStatus.AUTHORIZED, PaymentStatus.FAILED}:
            assert p.captured_minor == 0
        if p.status is PaymentStatus.CAPTURED:
            assert p.captured_minor > 0 and p.refunded_minor == 0
        if p.status is PaymentStatus.PARTIALLY_REFUNDED:
            assert 0 < p.refunded_minor < p.captured_minor
        if p.status is PaymentStatus.REFUNDED:
            assert p.refunded_minor == p.captured_minor > 0
        if p.status is PaymentStatus.FAILED:
            assert p.failure_reason

    @invariant()
    def the_ledger_replays_to_the_payment(self):
        replayed = domain.replay(self.initial, self.ledger)
        assert (replayed.status, replayed.captured_minor, replayed.refunded_minor) == (
            self.payment.status,
            self.payment.captured_minor,
            self.payment.refunded_minor,
        )
        refunds = sum(e.amount_minor for e in self.ledger if e.transition is Transition.REFUND)
        assert refunds == self.payment.refunded_minor

    @invariant()
    def final_statuses_admit_nothing(self):
        if self.payment.status in FINAL_STATUSES:
            for transition, sources in domain.SOURCES.items():
                assert self.payment.status not in sources, transition


TestPaymentMachine = PaymentMachine.TestCase
TestPaymentMachine.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)


def test_void_after_capture_is_refused_with_refund_instead():
    captured = domain.capture(domain.authorize(fresh_payment(), CAUSE).payment, CAUSE).payment
    with pytest.raises(domain.PaymentAlreadyCaptured) as refused:
        domain.void(captured, CAUSE)
    assert refused.value.reason == "PAYMENT_CAPTURED"
    assert "refund" in str(refused.value)


def test_refund_above_the_captured_remainder_is_refused():
    authorized = domain.authorize(fresh_payment(), CAUSE).payment
    captured = domain.capture(authorized, CAUSE, 6_000).payment  # partial capture
    partly = domain.refund(captured, CAUSE, 2_000).payment
    with pytest.raises(domain.RefundExceedsCaptured) as refused:
        domain.refund(partly, CAUSE, 4_001)
    assert refused.value.details["remainder_minor"] == 4_000
    assert domain.refund(partly, CAUSE).payment.status is PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("amount.amount_minor", {"amount_minor": 0}),
        ("amount.amount_minor", {"amount_minor": 100_000_000}),
        ("amount.currency", {"currency": "eur"}),
        ("amount.currency", {"currency": "EURO"}),
        ("order_id", {"order_id": ""}),
        ("payment_id", {"payment_id": "x" * 37}),
    ],
)
def test_new_payment_names_the_bad_field(field, kwargs):
    args = {
        "payment_id": "p",
        "order_id": "o",
        "amount_minor": 100,
        "currency": "EUR",
        "provider": "mock",
    } | kwargs
    with pytest.raises(domain.InvalidInput) as refused:
        domain.new_payment(**args)
    assert refused.value.field == field


def test_idempotency_keys_are_deterministic_per_step():
    key = domain.provider_idempotency_key
    assert key(domain.ProviderStep.AUTHORIZE, "p1") == "payment:p1:authorize"
    assert key(domain.ProviderStep.REFUND, "p1", "admin-7") == "payment:p1:refund:admin-7"
    assert key(domain.ProviderStep.CAPTURE, "p1") != key(domain.ProviderStep.CAPTURE, "p2")


# ------------------------------------------------------------------ intent status mapping


@pytest.mark.parametrize(
    ("status", "extra", "expected"),
    [
        ("requires_payment_method", {}, PaymentStatus.PENDING),
        ("requires_payment_method", {"error": "card_declined"}, PaymentStatus.FAILED),
        ("requires_confirmation", {}, PaymentStatus.PENDING),
        ("processing", {}, PaymentStatus.PENDING),
        ("requires_action", {}, PaymentStatus.REQUIRES_ACTION),
        ("requires_capture", {}, PaymentStatus.AUTHORIZED),
        ("succeeded", {"received": 100}, PaymentStatus.CAPTURED),
        ("succeeded", {"received": 100, "refunded": 40}, PaymentStatus.PARTIALLY_REFUNDED),
        ("succeeded", {"received": 100, "refunded": 100}, PaymentStatus.REFUNDED),
        ("canceled", {}, PaymentStatus.FAILED),
        ("canceled", {"was_authorized": True}, PaymentStatus.VOIDED),
    ],
)
def test_every_intent_status_maps_to_a_payment_status(status, extra, expected):
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "status": status,
        "amount": 100,
        "amount_received": extra.get("received", 0),
        "currency": "eur",
        "last_payment_error": {"code": extra["error"]} if "error" in extra else None,
        "latest_charge": {
            "status": "succeeded" if extra.get("was_authorized") or "received" in extra else "",
            "amount": 100,
            "amount_refunded": extra.get("refunded", 0),
        },
    }
    assert domain.status_from_intent(intent_snapshot(intent)) is expected


# ----------------------------------------------------- reconciliation against a Stripe-like intent

provider_steps = st.lists(
    st.one_of(
        st.tuples(st.just("capture"), st.one_of(st.none(), st.integers(1, AMOUNT))),
        st.tuples(st.just("cancel"), st.none()),
        st.tuples(st.just("refund"), st.one_of(st.none(), st.integers(1, AMOUNT))),
        st.tuples(st.just("authenticate"), st.booleans()),
        st.tuples(st.just("expire"), st.none()),
    ),
    max_size=8,
)


def intent_history(payment_method: str, capture_method: CaptureMethod, steps) -> list[dict]:
    """Stripe JSON of the intent after its confirmation and after every accepted step."""
    intent = MockIntent(
        id="pi_1",
        charge_id="ch_1",
        client_secret="pi_1_secret",
        amount=AMOUNT,
        currency="eur",
        capture_method=capture_method,
        payment_method=payment_method,
        metadata={"payment_id": "pay-1"},
        created=0,
    )
    intent, _ = intent.confirm(TEST_PAYMENT_METHODS[payment_method])
    history = [intent.to_stripe()]
    for action, arg in steps:
        try:
            if action == "capture":
                intent, _ = intent.capture(arg)
            elif action == "cancel":
                intent, _ = intent.cancel()
            elif action == "refund":
                intent, _, _ = intent.refund(arg)
            elif action == "authenticate":
                intent, _ = intent.authenticate(arg)
            elif intent.status.value == "requires_capture":
                intent, _ = intent.cancel("automatic")
            else:
                continue
        except MockStripeError:
            continue  # Stripe refuses it; the intent is unchanged
        history.append(intent.to_stripe())
    return history


@settings(max_examples=300, deadline=None)
@given(
    payment_method=st.sampled_from(
        [
            "pm_card_visa",
            "pm_card_visa_chargeDeclined",
            "pm_card_chargeDeclinedInsufficientFunds",
            "pm_card_authenticationRequired",
        ]
    ),
    capture_method=st.sampled_from(list(CaptureMethod)),
    steps=provider_steps,
    observed=st.lists(st.booleans(), min_size=10, max_size=10),
)
def test_reconciling_step_by_step_or_at_once_reaches_the_same_truth(
    payment_method, capture_method, steps, observed
):
    history = intent_history(payment_method, capture_method, steps)
    truths = [intent_snapshot(state) for state in history]

    # Some webhooks arrive (and are reconciled), some are lost; the last truth is always seen.
    stepwise = fresh_payment()
    ledger: list[domain.PaymentEvent] = []
    seen = [t for t, keep in zip(truths, observed, strict=False) if keep] + [truths[-1]]
    for truth in seen:
        result = domain.reconcile(stepwise, truth, CAUSE)
        assert result.mismatch is None, result.mismatch
        stepwise = result.payment
        ledger.extend(result.events)

    at_once = domain.reconcile(fresh_payment(), truths[-1], CAUSE)
    assert at_once.mismatch is None
    final = truths[-1]
    for payment in (stepwise, at_once.payment):
        assert payment.status is domain.status_from_intent(final, payment.status)
        assert payment.captured_minor == final.amount_received_minor
        assert payment.refunded_minor == final.amount_refunded_minor
    assert stepwise.status is at_once.payment.status

    # A duplicate or late delivery of any already-seen truth changes nothing.
    assert domain.reconcile(stepwise, final, CAUSE).events == ()
    replayed = domain.replay(fresh_payment(), ledger)
    assert (replayed.status, replayed.captured_minor, replayed.refunded_minor) == (
        stepwise.status,
        stepwise.captured_minor,
        stepwise.refunded_minor,
    )


def test_money_collected_on_a_failed_payment_is_reported_not_hidden():
    failed = domain.fail(fresh_payment(), CAUSE, "card_declined").payment
    truth = intent_snapshot(
        {
            "id": "pi_1",
            "status": "succeeded",
            "amount": AMOUNT,
            "amount_received": AMOUNT,
            "currency": "eur",
        }
    )
    result = domain.reconcile(failed, truth, CAUSE)
    assert result.events == ()
    assert result.payment == failed
    assert result.mismatch and "failed locally" in result.mismatch
