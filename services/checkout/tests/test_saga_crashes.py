"""A checkout run that dies at any step boundary is finished by recovery: the order ends
`confirmed` with exactly one capture and its stock committed once, or `failed` with no capture,
the authorization voided and the stock released.

The "death" is `Crash`, a BaseException the orchestrator does not catch, raised by a fake service
before or after it acted, or instead of one of checkout's own commits: the run stops there,
leaving its lease, as a killed process would. Recovery then runs with a clock past the lease.
(Killing a real process with SIGKILL is the end-to-end version of this, once checkout runs
against the real services.)
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from vanity_checkout import repository
from vanity_checkout.domain import OrderStatus, SagaState
from vanity_checkout.ports import PaymentStatus
from vanity_checkout.saga import CheckoutSaga
from vanity_checkout.tables import orders as orders_table
from vanity_common.migrations import migrate
from vanity_testkit import FakeClock

from .conftest import PRICES, open_checkout, place, settle
from .saga_fakes import DECLINED, THREE_D_SECURE, VISA, Crash, FakeShop
from .test_saga import assert_compensated, assert_confirmed

LINES = {"LIP-1": 2, "EYE-2": 1}
BIG_STOCK = {"LIP-1": 10_000, "EYE-2": 10_000, "LAST-1": 1}

HAPPY_CALLS = [
    ("cart", "lock"),
    ("catalog", "variants"),
    ("inventory", "reserve"),
    ("payments", "charge"),
    ("inventory", "commit"),
    ("payments", "capture"),
    ("cart", "clear"),
]
DECLINE_CALLS = [
    ("payments", "charge"),
    ("payments", "payment_for_order"),  # the void step asks what there is to void
    ("inventory", "release"),
    ("cart", "unlock"),
]


@pytest.fixture
async def crash_rig(sqlite_url):
    clock = FakeClock()
    shop = FakeShop.create(clock, BIG_STOCK, PRICES)
    await migrate("vanity_checkout", sqlite_url)
    saga = await open_checkout(sqlite_url, shop, clock)
    yield saga, shop, clock
    await saga.db.dispose()


class CrashOnWrite:
    """Kills the run instead of checkout's `n`-th commit from now (the remote effect of the
    step before it, if any, has happened; the local record of it has not)."""

    def __init__(self, saga: CheckoutSaga, n: int) -> None:
        self.saga, self.left = saga, n
        self.real = saga.db.write
        saga.db.write = self  # instance attribute shadows the method for this test

    async def __call__(self, work, **kwargs):
        self.left -= 1
        if self.left == 0:
            raise Crash("before a commit")
        return await self.real(work, **kwargs)

    def restore(self) -> None:
        self.saga.db.write = self.real


async def run_until_crash(saga: CheckoutSaga, command) -> str | None:
    try:
        return (await saga.place_order(command)).id
    except Crash:
        return None


async def order_of(saga: CheckoutSaga, user_id: str):
    async with saga.db.connect() as conn:
        order_id = (
            await conn.execute(select(orders_table.c.id).where(orders_table.c.user_id == user_id))
        ).scalar_one()
    return await saga.get_order(order_id)


@pytest.mark.parametrize("mode", ["crash_before", "crash_after"])
async def test_crash_at_every_remote_call_of_a_good_order_still_confirms_it(crash_rig, mode):
    saga, shop, clock = crash_rig
    for service, method in HAPPY_CALLS:
        user = f"{service}-{method}-{mode}"
        shop.cart.put(user, LINES)
        getattr(shop, service).fail_next(method, mode)
        await run_until_crash(saga, place(user_id=user, key=user))
        await settle(saga, clock)
        order = await order_of(saga, user)
        assert order.status is OrderStatus.CONFIRMED, (service, method)
        assert_confirmed(shop, order.id, user)
    assert shop.inventory.on_hand["LIP-1"] == 10_000 - 2 * len(HAPPY_CALLS)


@pytest.mark.parametrize("mode", ["crash_before", "crash_after"])
async def test_crash_at_every_call_of_a_declined_order_still_compensates(crash_rig, mode):
    saga, shop, clock = crash_rig
    for service, method in DECLINE_CALLS:
        user = f"{service}-{method}-{mode}"
        shop.cart.put(user, LINES)
        getattr(shop, service).fail_next(method, mode)
        await run_until_crash(saga, place(user_id=user, key=user, method=DECLINED))
        await settle(saga, clock)
        order = await order_of(saga, user)
        assert order.status is OrderStatus.FAILED, (service, method)
        assert_compensated(shop, order.id, user)
    assert shop.inventory.available("LIP-1") == 10_000


@pytest.mark.parametrize("method", [VISA, DECLINED, THREE_D_SECURE])
async def test_crash_instead_of_every_commit_ends_in_a_clean_state(crash_rig, method):
    saga, shop, clock = crash_rig
    n = 0
    while True:
        n += 1
        user = f"commit-{n}-{method}"
        shop.cart.put(user, LINES)
        crasher = CrashOnWrite(saga, n)
        order_id = await run_until_crash(saga, place(user_id=user, key=user, method=method))
        crasher.restore()
        if n == 1:
            assert order_id is None  # the intake itself died: nothing was placed
            continue
        if method == THREE_D_SECURE:
            order = await order_of(saga, user)
            if order.status is OrderStatus.PENDING:
                clock.advance(31)  # past the lease, not the 3-D Secure wait
                await saga.recover_expired_leases()
                order = await order_of(saga, user)
            if order.status is OrderStatus.AWAITING_PAYMENT:
                shop.payments.complete_authentication(order.id)
                await saga.handle_payment_outcome(order.id, outcome="succeeded")
        await settle(saga, clock)
        order = await order_of(saga, user)
        if method == DECLINED:
            assert order.status is OrderStatus.FAILED, n
            assert_compensated(shop, order.id, user)
        else:
            assert order.status is OrderStatus.CONFIRMED, n
            assert_confirmed(shop, order.id, user)
        if order_id is not None:  # this run finished without meeting the crash: all covered
            break
    # The intake and every commit after it were each crashed once: one per chain of steps
    # (lock + price, reserve + authorize, commit + capture + confirm + clear) and one per
    # compensation (void, release, unlock + close).
    assert n - 1 == {VISA: 4, DECLINED: 6, THREE_D_SECURE: 3}[method]


async def test_crash_instead_of_every_commit_after_3ds_confirms_once(crash_rig):
    saga, shop, clock = crash_rig
    n = 0
    while True:
        n += 1
        user = f"after-3ds-{n}"
        shop.cart.put(user, LINES)
        order = await saga.place_order(place(user_id=user, key=user, method=THREE_D_SECURE))
        assert order.status is OrderStatus.AWAITING_PAYMENT
        shop.payments.complete_authentication(order.id)
        crasher = CrashOnWrite(saga, n)
        try:
            await saga.handle_payment_outcome(order.id, outcome="succeeded", provider_event_id=user)
            finished = True
        except Crash:
            finished = False
        crasher.restore()
        # payments delivers the outcome again (at least once), then recovery sweeps.
        await saga.handle_payment_outcome(order.id, outcome="succeeded", provider_event_id=user)
        await settle(saga, clock)
        assert (await saga.get_order(order.id)).status is OrderStatus.CONFIRMED, n
        assert_confirmed(shop, order.id, user)
        if finished:
            break
    # The outcome, the claim, payment completed, then commit + capture + confirm + clear cart.
    assert n - 1 == 4


async def test_crash_while_handling_a_payment_outcome_is_recovered(crash_rig):
    saga, shop, clock = crash_rig
    shop.cart.put("alice", LINES)
    order = await saga.place_order(place(method=THREE_D_SECURE))
    shop.payments.complete_authentication(order.id)
    shop.inventory.fail_next("commit", "crash_after")
    with pytest.raises(Crash):
        await saga.handle_payment_outcome(order.id, outcome="succeeded", provider_event_id="e1")
    # The same webhook again is a duplicate: it does not run the saga a second time.
    await saga.handle_payment_outcome(order.id, outcome="succeeded", provider_event_id="e1")
    assert (await saga.get_saga(order.id)).saga.state is SagaState.RUNNING
    await settle(saga, clock)
    assert (await saga.get_order(order.id)).status is OrderStatus.CONFIRMED
    assert_confirmed(shop, order.id)


# ------------------------------------------------------------- random faults (hypothesis)

ALL_CALLS = [
    ("cart", "lock"),
    ("cart", "unlock"),
    ("cart", "clear"),
    ("catalog", "variants"),
    ("inventory", "reserve"),
    ("inventory", "reservation"),
    ("inventory", "commit"),
    ("inventory", "release"),
    ("payments", "charge"),
    ("payments", "payment_for_order"),
    ("payments", "capture"),
    ("payments", "void"),
]
MODES = ["unavailable", "timeout_after", "crash_before", "crash_after"]


@pytest.fixture(scope="module")
def migrated_sqlite(tmp_path_factory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('random') / 'checkout.db'}"
    asyncio.run(migrate("vanity_checkout", url))
    return url


async def _survive(call):
    try:
        return await call
    except Crash:
        return None


async def _random_scenario(url, faults, method, customer_completes):
    clock = FakeClock()
    shop = FakeShop.create(clock, BIG_STOCK, PRICES)
    saga = await open_checkout(url, shop, clock)
    user = f"rnd-{uuid.uuid4().hex[:12]}"
    try:
        shop.cart.put(user, LINES)
        for (service, call), mode in faults:
            getattr(shop, service).fail_next(call, mode)
        await _survive(saga.place_order(place(user_id=user, key=user, method=method)))
        for _ in range(40):  # recovery rounds; a 3-D Secure customer acts on the way
            (order,) = await _orders(saga, user)
            if order.status is OrderStatus.AWAITING_PAYMENT and customer_completes:
                pending = [
                    p
                    for p in shop.payments.for_order(order.id)
                    if p.status is PaymentStatus.REQUIRES_ACTION
                ]
                if pending:
                    shop.payments.complete_authentication(order.id)
                    await _survive(saga.handle_payment_outcome(order.id, outcome="succeeded"))
            record = await saga.get_saga(order.id)
            if not record.saga.is_active:
                break
            clock.advance(61)
            await _survive(saga.recover_expired_leases())
        (order,) = await _orders(saga, user)
        assert not (await saga.get_saga(order.id)).saga.is_active
        assert shop.overlaps() == []
        if order.status is OrderStatus.CONFIRMED:
            assert method != DECLINED
            assert_confirmed(shop, order.id, user)
        else:
            assert order.status is OrderStatus.FAILED and order.failure_reason is not None
            assert_compensated(shop, order.id, user)
            if method == VISA and all(mode.startswith("crash") for _, mode in faults):
                raise AssertionError(f"a good order failed after crashes only: {order}")
    finally:
        await saga.db.dispose()


async def _orders(saga, user_id):
    async with saga.db.connect() as conn:
        return await repository.list_orders(conn, user_id, 5)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    faults=st.lists(st.tuples(st.sampled_from(ALL_CALLS), st.sampled_from(MODES)), max_size=5),
    method=st.sampled_from([VISA, DECLINED, THREE_D_SECURE]),
    customer_completes=st.booleans(),
)
def test_any_mix_of_crashes_and_lost_answers_ends_confirmed_once_or_fully_undone(
    migrated_sqlite, faults, method, customer_completes
):
    asyncio.run(_random_scenario(migrated_sqlite, faults, method, customer_completes))
