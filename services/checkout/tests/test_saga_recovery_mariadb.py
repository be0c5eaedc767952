"""Recovery on MariaDB: several sweepers at once never run the same saga concurrently (SKIP
LOCKED claims plus leases), and a run whose lease ran out cannot overwrite its successor."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from vanity_checkout import repository
from vanity_checkout.domain import OrderStatus
from vanity_common.migrations import migrate
from vanity_testkit import FakeClock

from .conftest import PRICES, active_sagas, open_checkout, place
from .saga_fakes import THREE_D_SECURE, Crash, FakeShop
from .test_saga import assert_confirmed
from .test_saga_crashes import BIG_STOCK, HAPPY_CALLS, LINES


@pytest.mark.mariadb
async def test_concurrent_recovery_workers_never_run_one_saga_twice(mariadb_url, monkeypatch):
    clock = FakeClock()
    shop = FakeShop.create(clock, BIG_STOCK, PRICES)
    await migrate("vanity_checkout", mariadb_url)
    placer = await open_checkout(mariadb_url, shop, clock, worker_id="placer")
    workers = [
        await open_checkout(mariadb_url, shop, clock, worker_id=f"sweeper-{i}", pool_size=5)
        for i in range(4)
    ]
    claims: dict[str, list[str]] = defaultdict(list)  # order id -> lease tokens that claimed it
    real_claim_due = repository.claim_due

    async def recording_claim_due(conn, *, owner, **kwargs):
        order_ids = await real_claim_due(conn, owner=owner, **kwargs)
        for order_id in order_ids:
            claims[order_id].append(owner)
        return order_ids

    monkeypatch.setattr(repository, "claim_due", recording_claim_due)
    try:
        # 21 orders, each run killed at a different remote call (after the call took effect).
        users = []
        for i in range(21):
            service, method = HAPPY_CALLS[i % len(HAPPY_CALLS)]
            user = f"user-{i}"
            users.append(user)
            shop.cart.put(user, LINES)
            getattr(shop, service).fail_next(method, "crash_after")
            with pytest.raises(Crash):
                await placer.place_order(place(user_id=user, key=user))
        assert len(await active_sagas(placer)) == 21

        clock.advance(60)  # every lease has run out
        rounds = 0
        while await active_sagas(placer):
            rounds += 1
            assert rounds < 10
            counts = await asyncio.gather(*(w.recover_expired_leases(limit=4) for w in workers))
            assert sum(counts) > 0
        # Each saga was claimed exactly once: no sweeper took one another held.
        assert sorted(len(tokens) for tokens in claims.values()) == [1] * 21
        assert shop.overlaps() == []  # and no two runs ever called about one order at once
        async with placer.db.connect() as conn:
            for user in users:
                orders = await repository.list_orders(conn, user, 5)
                assert [o.status for o in orders] == [OrderStatus.CONFIRMED]
                assert_confirmed(shop, orders[0].id, user)
    finally:
        for saga in [placer, *workers]:
            await saga.db.dispose()


async def test_a_run_whose_lease_ran_out_cannot_overwrite_its_successor(database_url):
    clock = FakeClock()
    shop = FakeShop.create(clock, BIG_STOCK, PRICES)
    await migrate("vanity_checkout", database_url)
    slow = await open_checkout(database_url, shop, clock, worker_id="slow")
    other = await open_checkout(database_url, shop, clock, worker_id="other")
    try:
        shop.cart.put("alice", LINES)
        gate = shop.payments.hold_next("capture")  # the slow run hangs in Capture
        slow_run = asyncio.create_task(slow.place_order(place()))
        while not shop.payments.calls or shop.payments.calls[-1][0] != "capture":
            await asyncio.sleep(0.01)

        clock.advance(60)  # its lease runs out while it hangs
        assert await other.recover_expired_leases() == 1
        (order,) = await _orders(other, "alice")
        assert order.status is OrderStatus.CONFIRMED

        gate.set()  # the slow run wakes up, captures (a no-op now) and tries to commit
        late = await slow_run
        assert late.status is OrderStatus.CONFIRMED
        assert_confirmed(shop, order.id)
        steps = [e.from_step for e in await other.timeline(order.id) if e.from_step]
        assert steps.count("capture_payment") == 1  # the fenced commit wrote nothing
    finally:
        await slow.db.dispose()
        await other.db.dispose()


async def _orders(saga, user_id):
    async with saga.db.connect() as conn:
        return await repository.list_orders(conn, user_id, 5)


async def test_a_storm_of_duplicated_and_reordered_outcomes_moves_the_order_once(database_url):
    clock = FakeClock()
    shop = FakeShop.create(clock, BIG_STOCK, PRICES)
    await migrate("vanity_checkout", database_url)
    saga = await open_checkout(database_url, shop, clock)
    try:
        shop.cart.put("alice", LINES)
        order = await saga.place_order(place(method=THREE_D_SECURE))
        assert order.status is OrderStatus.AWAITING_PAYMENT
        shop.payments.complete_authentication(order.id)
        events = [("evt_ok", "succeeded"), ("evt_old_fail", "failed"), ("evt_ok2", "succeeded")]
        answers = await asyncio.gather(
            *(
                saga.handle_payment_outcome(order.id, outcome=outcome, provider_event_id=event)
                for _ in range(5)
                for event, outcome in events
            )
        )
        assert all(
            a.status in (OrderStatus.AWAITING_PAYMENT, OrderStatus.CONFIRMED) for a in answers
        )
        assert (await saga.get_order(order.id)).status is OrderStatus.CONFIRMED
        assert_confirmed(shop, order.id)
        assert shop.overlaps() == []
        reported = [
            e for e in await saga.timeline(order.id) if e.event == "payment_outcome_reported"
        ]
        assert sorted(e.detail["provider_event_id"] for e in reported) == sorted(
            event for event, _ in events
        )  # each event handled once, however often it came
    finally:
        await saga.db.dispose()
