"""The checkout saga against in-process fakes of inventory, payments, cart, catalog, identity:
the happy path, every failure it compensates, 3-D Secure, unknown outcomes, idempotency."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from vanity_checkout.domain import FailureReason, OrderStatus, SagaState, SagaStep
from vanity_checkout.ports import PaymentStatus, ReservationStatus
from vanity_checkout.tables import orders, sagas
from vanity_common.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from vanity_common.outbox import outbox_table

from .conftest import ADDRESS, place, settle
from .saga_fakes import DECLINED, THREE_D_SECURE, FakeShop


async def outbox_topics(saga) -> list[tuple[str, str]]:
    async with saga.db.connect() as conn:
        rows = await conn.execute(select(outbox_table.c.topic, outbox_table.c.payload))
        return [(r.topic, r.payload) for r in rows]


def captures(shop: FakeShop, order_id: str) -> int:
    return sum(shop.payments.captures[p.id] for p in shop.payments.for_order(order_id))


def assert_compensated(shop: FakeShop, order_id: str, user_id: str = "alice") -> None:
    """Failed orders: nothing captured, no money held, no stock held, cart usable again."""
    assert captures(shop, order_id) == 0
    for payment in shop.payments.for_order(order_id):
        assert payment.status in (PaymentStatus.FAILED, PaymentStatus.VOIDED)
    reservation = shop.inventory.reservations.get(order_id)
    assert reservation is None or reservation.status is ReservationStatus.RELEASED
    assert shop.cart.carts[user_id].locked_by is None
    assert shop.cart.carts[user_id].lines  # intact


def assert_confirmed(shop: FakeShop, order_id: str, user_id: str = "alice") -> None:
    assert captures(shop, order_id) == 1
    assert len(shop.payments.for_order(order_id)) == 1
    assert shop.inventory.reservations[order_id].status is ReservationStatus.COMMITTED
    assert shop.cart.carts[user_id].lines == {}
    assert shop.cart.carts[user_id].locked_by is None


# ------------------------------------------------------------------------------ happy path


async def test_happy_path_confirms_with_catalog_prices_one_capture_and_an_email(any_checkout, shop):
    order = await any_checkout.place_order(place())

    assert order.status is OrderStatus.CONFIRMED
    assert [(line.sku, line.quantity, line.unit_price_minor) for line in order.lines] == [
        ("EYE-2", 1, 2450),
        ("LIP-1", 2, 1299),
    ]
    assert (order.total_minor, order.currency) == (2 * 1299 + 2450, "EUR")
    assert order.payment_status == "captured"
    assert order.shipping_address.city == "Paris"
    assert_confirmed(shop, order.id)
    assert shop.inventory.on_hand["LIP-1"] == 8
    charge = shop.payments.for_order(order.id)[0]
    assert charge.key == f"order:{order.id}:authorize"
    assert charge.amount.amount_minor == order.total_minor

    record = await any_checkout.get_saga(order.id)
    assert (record.saga.state, record.saga.step) == (SagaState.COMPLETED, SagaStep.DONE)
    assert record.lease_owner is None
    steps = [e.from_step for e in await any_checkout.timeline(order.id) if e.from_step]
    assert steps == [
        "lock_cart",
        "price_order",
        "reserve_stock",
        "authorize_payment",
        "commit_stock",
        "capture_payment",
        "confirm_order",
        "clear_cart",
    ]
    emails = [p for t, p in await outbox_topics(any_checkout) if t == "checkout.send_order_email"]
    assert len(emails) == 1 and '"confirmed"' in emails[0]


async def test_address_comes_from_identity_by_id(checkout, shop):
    shop.identity.add_address("alice", "addr-1")
    order = await checkout.place_order(place(shipping_address_id="addr-1"))
    assert order.status is OrderStatus.CONFIRMED
    assert order.shipping_address.address_id == "addr-1"


async def test_someone_elses_address_fails_before_anything_is_held(checkout, shop):
    shop.identity.add_address("mallory", "addr-9")
    order = await checkout.place_order(place(shipping_address_id="addr-9"))
    assert (order.status, order.failure_reason) == (
        OrderStatus.FAILED,
        FailureReason.ADDRESS_NOT_FOUND,
    )
    assert shop.inventory.count("reserve") == 0 and shop.payments.count("charge") == 0
    assert_compensated(shop, order.id)


# -------------------------------------------------------------------------------- failures


async def test_out_of_stock_fails_without_charging_and_unlocks_the_cart(any_checkout, shop):
    shop.cart.put("alice", {"LAST-1": 2})
    order = await any_checkout.place_order(place())

    assert (order.status, order.failure_reason) == (OrderStatus.FAILED, FailureReason.OUT_OF_STOCK)
    assert shop.payments.count("charge") == 0
    assert_compensated(shop, order.id)
    assert shop.inventory.available("LAST-1") == 1
    record = await any_checkout.get_saga(order.id)
    assert record.saga.state is SagaState.FAILED


async def test_declined_card_fails_and_gives_the_stock_back(any_checkout, shop):
    order = await any_checkout.place_order(place(method=DECLINED))

    assert (order.status, order.failure_reason) == (
        OrderStatus.FAILED,
        FailureReason.PAYMENT_DECLINED,
    )
    assert_compensated(shop, order.id)
    assert shop.inventory.reservations[order.id].status is ReservationStatus.RELEASED
    assert shop.inventory.available("LIP-1") == 10


async def test_catalog_total_differing_from_the_clients_fails_price_changed(checkout, shop):
    order = await checkout.place_order(place(expected_total_minor=1))
    assert order.failure_reason is FailureReason.PRICE_CHANGED
    assert shop.inventory.count("reserve") == 0
    assert_compensated(shop, order.id)


async def test_a_product_no_longer_on_sale_fails_the_order(checkout, shop):
    shop.catalog.inactive.add("EYE-2")
    order = await checkout.place_order(place())
    assert order.failure_reason is FailureReason.PRODUCT_UNAVAILABLE
    assert_compensated(shop, order.id)


async def test_a_cart_held_by_another_checkout_is_left_alone(checkout, shop):
    shop.cart.carts["alice"].locked_by = "another-order"
    order = await checkout.place_order(place())
    assert order.failure_reason is FailureReason.CART_LOCKED
    assert shop.cart.carts["alice"].locked_by == "another-order"


async def test_reservation_lapsed_before_commit_voids_the_authorization(checkout, shop):
    shop.inventory.fail_next("commit", "unavailable")  # first commit attempt lost...
    order = await checkout.place_order(place())
    assert order.status is OrderStatus.PENDING
    # ... and by the retry the reservation has lapsed (the clock jumps past its TTL).
    await settle(checkout, shop.clock, step=1000)
    order = await checkout.get_order(order.id)
    assert order.failure_reason is FailureReason.RESERVATION_EXPIRED
    assert_compensated(shop, order.id)
    assert shop.payments.for_order(order.id)[0].status is PaymentStatus.VOIDED


async def test_a_dependency_down_for_good_gives_up_and_compensates(checkout, shop):
    shop.inventory.fail_next("reserve", "unavailable", times=100)
    shop.inventory.fail_next("reservation", "unavailable", times=100)
    order = await checkout.place_order(place())
    assert order.status is OrderStatus.PENDING
    await settle(checkout, shop.clock)
    order = await checkout.get_order(order.id)
    assert order.failure_reason is FailureReason.DEPENDENCY_UNAVAILABLE
    assert_compensated(shop, order.id)


# --------------------------------------------------------------------- unknown outcomes


@pytest.mark.parametrize("method", ["reserve", "charge", "commit", "capture", "lock", "clear"])
async def test_a_lost_answer_after_the_effect_is_resolved_without_doing_it_twice(
    checkout, shop, method
):
    target = shop.inventory if method in ("reserve", "commit") else shop.payments
    if method in ("lock", "clear"):
        target = shop.cart
    target.fail_next(method, "timeout_after")
    order = await checkout.place_order(place())
    await settle(checkout, shop.clock)
    order = await checkout.get_order(order.id)

    assert order.status is OrderStatus.CONFIRMED
    assert_confirmed(shop, order.id)
    assert shop.inventory.on_hand["LIP-1"] == 8  # committed once
    if method == "charge":
        # The retry asked payments first instead of charging again.
        assert shop.payments.count("charge") == 1


async def test_a_call_that_never_arrived_is_made_again(checkout, shop):
    shop.payments.fail_next("charge", "unavailable")
    order = await checkout.place_order(place())
    assert order.status is OrderStatus.PENDING
    await settle(checkout, shop.clock)
    assert (await checkout.get_order(order.id)).status is OrderStatus.CONFIRMED
    assert shop.payments.count("charge") == 2
    assert_confirmed(shop, order.id)


# ------------------------------------------------------------------------ in-flight gauges


def sample(name: str, **labels) -> float | None:
    """A metric's current value in this process (None before it was first set)."""
    return REGISTRY.get_sample_value(name, labels)


async def test_a_placed_order_counts_one_start_and_times_each_step(any_checkout):
    def steps_timed(step: str) -> float:
        return sample("vanity_checkout_saga_step_duration_seconds_count", step=step) or 0.0

    started = sample("vanity_checkout_sagas_started_total") or 0.0
    timed = {step: steps_timed(step) for step in ("reserve_stock", "capture_payment")}
    order = await any_checkout.place_order(place())
    again = await any_checkout.place_order(place())  # the same key: no second saga
    assert again.id == order.id
    assert sample("vanity_checkout_sagas_started_total") == started + 1
    for step, before in timed.items():
        assert steps_timed(step) == before + 1


async def test_the_in_flight_gauges_count_active_sagas_and_age_the_oldest(
    any_checkout, shop, clock
):
    assert (await any_checkout.report_in_flight()).counts == {}
    assert sample("vanity_checkout_saga_oldest_in_flight_seconds") == 0
    waiting = await any_checkout.place_order(place(method=THREE_D_SECURE))
    clock.advance(seconds=600)
    await any_checkout.place_order(place(key="key-2"))  # confirmed: no longer in flight

    report = await any_checkout.report_in_flight()
    assert report.counts == {"waiting": 1}
    assert report.oldest_age_s == pytest.approx(600, abs=1)
    assert sample("vanity_checkout_sagas_in_flight", state="waiting") == 1
    assert sample("vanity_checkout_sagas_in_flight", state="running") == 0
    assert sample("vanity_checkout_saga_oldest_in_flight_seconds") == pytest.approx(600, abs=1)

    await any_checkout.cancel_order(waiting.id, owner="alice")
    await settle(any_checkout, clock)
    assert (await any_checkout.report_in_flight()).counts == {}
    assert sample("vanity_checkout_sagas_in_flight", state="waiting") == 0
    assert sample("vanity_checkout_saga_oldest_in_flight_seconds") == 0


# ------------------------------------------------------------------------------- 3-D Secure


async def test_3ds_outcome_after_the_synchronous_answer_confirms_once(any_checkout, shop):
    order = await any_checkout.place_order(place(method=THREE_D_SECURE))
    assert order.status is OrderStatus.AWAITING_PAYMENT
    payment = shop.payments.for_order(order.id)[0]
    assert order.client_secret == payment.client_secret
    record = await any_checkout.get_saga(order.id)
    assert record.saga.state is SagaState.WAITING and record.lease_owner is None

    shop.payments.complete_authentication(order.id)
    done = await any_checkout.handle_payment_outcome(
        order.id, outcome="succeeded", provider_event_id="evt_1", payment_id=payment.id
    )
    assert done.status is OrderStatus.CONFIRMED and done.client_secret is None
    # Duplicated and reordered webhooks change nothing.
    again = await any_checkout.handle_payment_outcome(
        order.id, outcome="succeeded", provider_event_id="evt_1", payment_id=payment.id
    )
    late_failure = await any_checkout.handle_payment_outcome(
        order.id, outcome="failed", provider_event_id="evt_0", payment_id=payment.id
    )
    assert again.status is late_failure.status is OrderStatus.CONFIRMED
    assert_confirmed(shop, order.id)


async def test_3ds_outcome_before_the_synchronous_answer_confirms_once(checkout, shop):
    reported = []

    async def webhook_races_the_answer(payment):
        # The customer authenticates at once; payments records it and reports it while
        # checkout is still waiting for Charge's (now stale) requires_action answer.
        payment.status = PaymentStatus.AUTHORIZED
        reported.append(
            await checkout.handle_payment_outcome(
                payment.order_id,
                outcome="succeeded",
                provider_event_id="evt_fast",
                payment_id=payment.id,
            )
        )

    shop.payments.on_charge = webhook_races_the_answer
    order = await checkout.place_order(place(method=THREE_D_SECURE))

    assert reported[0].status is OrderStatus.PENDING  # the saga was busy: only noted
    assert order.status is OrderStatus.CONFIRMED
    assert_confirmed(shop, order.id)


async def test_3ds_failed_by_the_customer_fails_the_order_and_releases(checkout, shop):
    order = await checkout.place_order(place(method=THREE_D_SECURE))
    shop.payments.complete_authentication(order.id, success=False)
    order = await checkout.handle_payment_outcome(
        order.id, outcome="failed", provider_event_id="evt_f"
    )
    assert order.failure_reason is FailureReason.AUTHENTICATION_FAILED
    assert_compensated(shop, order.id)


async def test_3ds_abandoned_past_the_reservation_ttl_times_out(any_checkout, shop, clock):
    order = await any_checkout.place_order(place(method=THREE_D_SECURE))
    assert order.status is OrderStatus.AWAITING_PAYMENT

    clock.advance(600)  # still inside the wait: recovery leaves it waiting
    assert await any_checkout.recover_expired_leases() == 0
    clock.advance(900 - 60 - 600)  # the wait ends 60 s before the reservation does
    assert await any_checkout.recover_expired_leases() == 1

    order = await any_checkout.get_order(order.id)
    assert (order.status, order.failure_reason) == (
        OrderStatus.FAILED,
        FailureReason.PAYMENT_TIMEOUT,
    )
    assert_compensated(shop, order.id)
    assert shop.payments.for_order(order.id)[0].status is PaymentStatus.VOIDED


async def test_3ds_completed_but_never_reported_is_found_at_the_deadline(checkout, shop, clock):
    order = await checkout.place_order(place(method=THREE_D_SECURE))
    shop.payments.complete_authentication(order.id)  # the webhook was lost
    clock.advance(900 - 60)  # the wait's deadline: asked once more, payments says authorized
    assert await checkout.recover_expired_leases() == 1
    assert (await checkout.get_order(order.id)).status is OrderStatus.CONFIRMED
    assert_confirmed(shop, order.id)


# ------------------------------------------------------------------------------ idempotency


async def test_the_same_key_twice_is_one_order(any_checkout, shop):
    first = await any_checkout.place_order(place(key="double-click"))
    second = await any_checkout.place_order(place(key="double-click"))
    assert first.id == second.id
    assert shop.payments.count("charge") == 1


async def test_concurrent_duplicates_are_one_order_and_one_charge(any_checkout, shop):
    results = await asyncio.gather(
        *(any_checkout.place_order(place(key="storm")) for _ in range(8))
    )
    assert len({o.id for o in results}) == 1
    async with any_checkout.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(orders)) == 1
        assert await conn.scalar(select(func.count()).select_from(sagas)) == 1
    await settle(any_checkout, shop.clock)
    order = await any_checkout.get_order(results[0].id)
    assert order.status is OrderStatus.CONFIRMED
    assert shop.payments.count("charge") == 1


async def test_bad_commands_are_refused_naming_the_field(checkout):
    with pytest.raises(InvalidArgument) as refused:
        await checkout.place_order(place(method=""))
    assert refused.value.errors[0].field == "payment_method"
    with pytest.raises(InvalidArgument):
        await checkout.place_order(place(shipping_address_id="a1", shipping_address=ADDRESS))


# --------------------------------------------------------------- after the order exists


async def test_cancel_while_awaiting_payment_voids_and_releases(checkout, shop):
    order = await checkout.place_order(place(method=THREE_D_SECURE))
    with pytest.raises(NotFound):
        await checkout.cancel_order(order.id, owner="mallory")
    cancelled = await checkout.cancel_order(order.id, owner="alice")
    assert (cancelled.status, cancelled.failure_reason) == (
        OrderStatus.CANCELLED,
        FailureReason.CANCELLED_BY_CUSTOMER,
    )
    assert_compensated(shop, order.id)
    # A late success for the cancelled payment changes nothing.
    late = await checkout.handle_payment_outcome(order.id, outcome="succeeded")
    assert late.status is OrderStatus.CANCELLED


async def test_cancel_a_confirmed_order_refunds_and_requests_a_restock(checkout, shop):
    order = await checkout.place_order(place())
    cancelled = await checkout.cancel_order(order.id, owner="alice")
    assert cancelled.status is OrderStatus.CANCELLED
    (payment,) = shop.payments.for_order(order.id)
    assert payment.status is PaymentStatus.REFUNDED
    topics = [t for t, _ in await outbox_topics(checkout)]
    assert "checkout.restock_required" in topics
    # Twice is a no-op.
    assert (await checkout.cancel_order(order.id)).status is OrderStatus.CANCELLED
    assert shop.payments.count("refund") == 1


async def test_a_failed_order_cannot_be_cancelled(checkout, shop):
    order = await checkout.place_order(place(method=DECLINED))
    with pytest.raises(FailedPrecondition):
        await checkout.cancel_order(order.id)


async def test_a_running_saga_is_not_cancelled_under_its_feet(checkout, shop):
    shop.payments.fail_next("charge", "unavailable")
    order = await checkout.place_order(place())
    assert order.status is OrderStatus.PENDING
    with pytest.raises(FailedPrecondition):
        await checkout.cancel_order(order.id)


async def test_refunds_partial_then_rest_and_a_retry_counts_once(checkout, shop):
    order = await checkout.place_order(place())
    partial = await checkout.refund(order.id, idempotency_key="r1", amount_minor=1000)
    assert (partial.status, partial.refunded_minor) == (OrderStatus.PARTIALLY_REFUNDED, 1000)
    retried = await checkout.refund(order.id, idempotency_key="r1", amount_minor=1000)
    assert retried.refunded_minor == 1000
    with pytest.raises(InvalidArgument):
        await checkout.refund(order.id, idempotency_key="r2", amount_minor=order.total_minor)
    full = await checkout.refund(order.id, idempotency_key="r3")
    assert (full.status, full.refunded_minor) == (OrderStatus.REFUNDED, order.total_minor)
    assert shop.payments.for_order(order.id)[0].refunded_minor == order.total_minor


async def test_ship_a_confirmed_order_with_tracking(checkout, shop):
    order = await checkout.place_order(place())
    shipped = await checkout.ship(order.id, tracking_number="TRK123", carrier="colissimo")
    assert (shipped.status, shipped.tracking_number) == (OrderStatus.SHIPPED, "TRK123")
    with pytest.raises(FailedPrecondition):
        await checkout.cancel_order(order.id)  # too late: it left the warehouse
    failed = await checkout.place_order(place(user_id="bob", key="k", method=DECLINED))
    with pytest.raises((FailedPrecondition, Conflict)):
        await checkout.ship(failed.id, tracking_number="TRK9")


async def test_orders_page_newest_first_by_keyset_with_filters(any_checkout, shop, clock):
    from vanity_checkout import repository

    placed = []
    for i in range(5):
        user = "alice" if i % 2 == 0 else "bob"
        shop.cart.put(user, {"LIP-1": 1})
        method = DECLINED if i == 4 else "pm_card_visa"
        placed.append(
            await any_checkout.place_order(place(user_id=user, key=f"k{i}", method=method))
        )
        clock.advance(1)
    async with any_checkout.db.connect() as conn:
        first = await repository.page_orders(conn, limit=2)
        assert [o.id for o in first] == [placed[4].id, placed[3].id]
        last = first[-1]
        rest = await repository.page_orders(conn, limit=10, after=(last.created_at, last.id))
        assert [o.id for o in rest] == [p.id for p in reversed(placed[:3])]
        alices = await repository.page_orders(conn, limit=10, user_id="alice")
        assert {o.user_id for o in alices} == {"alice"} and len(alices) == 3
        failed = await repository.page_orders(conn, limit=10, status=OrderStatus.FAILED)
        assert [o.id for o in failed] == [placed[4].id]
        window = await repository.page_orders(
            conn, limit=10, created_from=placed[1].created_at, created_before=placed[3].created_at
        )
        assert [o.id for o in window] == [placed[2].id, placed[1].id]


def test_the_grpc_ports_offer_what_the_saga_calls():
    """Wiring is `CheckoutSaga(db, container.ports, ...)`: every method the saga's Protocols
    declare exists on the real port with the same parameters."""
    import inspect

    from vanity_checkout import ports, saga_ports

    pairs = {
        saga_ports.InventoryForSaga: ports.InventoryPort,
        saga_ports.CatalogForSaga: ports.CatalogPort,
        saga_ports.IdentityForSaga: ports.IdentityPort,
        saga_ports.CartForSaga: ports.CartPort,
        saga_ports.PaymentsForSaga: ports.PaymentsPort,
    }
    for protocol, port in pairs.items():
        for name, declared in inspect.getmembers(protocol, inspect.isfunction):
            if name.startswith("_"):
                continue
            real = getattr(port, name)
            assert list(inspect.signature(real).parameters) == list(
                inspect.signature(declared).parameters
            ), (port.__name__, name)
    fields = set(ports.CheckoutPorts.__dataclass_fields__)
    assert {"inventory", "catalog", "identity", "cart", "payments"} <= fields


async def test_a_slow_saga_answers_pending_within_the_wait_and_finishes_behind(checkout, shop):
    gate = shop.payments.hold_next("charge")
    order = await checkout.place_order(place(), wait_s=0.05)
    assert order.status is OrderStatus.PENDING  # the client polls GET /orders/{id}
    gate.set()
    await checkout.aclose(timeout_s=30)
    assert (await checkout.get_order(order.id)).status is OrderStatus.CONFIRMED


async def test_shutdown_cancels_a_run_that_does_not_finish_and_recovery_resumes_it(checkout, shop):
    shop.payments.hold_next("charge")  # never released
    order = await checkout.place_order(place(), wait_s=0.05)
    await checkout.aclose(timeout_s=0.05)
    assert (await checkout.get_saga(order.id)).lease_owner is not None  # left as a crash
    await settle(checkout, shop.clock)
    assert (await checkout.get_order(order.id)).status is OrderStatus.CONFIRMED
    assert_confirmed(shop, order.id)


async def test_no_shipment_or_refund_while_a_cancellation_is_being_undone(checkout, shop):
    order = await checkout.place_order(place())
    gate = shop.payments.hold_next("refund")
    cancelling = asyncio.create_task(checkout.cancel_order(order.id))
    while shop.payments.count("refund") == 0:
        await asyncio.sleep(0.01)
    with pytest.raises(Conflict):
        await checkout.ship(order.id, tracking_number="TRK1")
    with pytest.raises(Conflict):
        await checkout.refund(order.id, idempotency_key="r1", amount_minor=1)
    gate.set()
    assert (await cancelling).status is OrderStatus.CANCELLED
    assert shop.payments.count("refund") == 1


async def test_an_unknown_payment_outcome_is_refused_naming_the_field(checkout, shop):
    order = await checkout.place_order(place(method=THREE_D_SECURE))
    with pytest.raises(InvalidArgument) as refused:
        await checkout.handle_payment_outcome(order.id, outcome="maybe")
    assert refused.value.errors[0].field == "outcome"
    with pytest.raises(NotFound):
        await checkout.handle_payment_outcome("no-such-order", outcome="succeeded")


async def test_saga_metrics_count_ends_and_retries(checkout, shop):
    before_failed = (
        sample("vanity_checkout_sagas_ended_total", state="failed", reason="payment_declined") or 0
    )
    before_retries = sample("vanity_checkout_saga_step_retries_total", step="reserve_stock") or 0
    shop.inventory.fail_next("reserve", "unavailable")
    await checkout.place_order(place(method=DECLINED))
    await settle(checkout, shop.clock)
    assert (
        sample("vanity_checkout_sagas_ended_total", state="failed", reason="payment_declined")
        == before_failed + 1
    )
    assert (
        sample("vanity_checkout_saga_step_retries_total", step="reserve_stock")
        == before_retries + 1
    )
