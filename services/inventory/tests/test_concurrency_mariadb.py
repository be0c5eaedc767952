"""Races on MariaDB with real parallel connections: every call below is a use case in its own
transaction on its own pooled connection, started together with asyncio.gather."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from vanity_common.errors import FailedPrecondition
from vanity_inventory import metrics
from vanity_inventory.domain import ReservationStatus

from .conftest import assert_ledger_consistent, balances

pytestmark = pytest.mark.mariadb


async def outcome(coro) -> str:
    try:
        await coro
        return "ok"
    except FailedPrecondition as exc:
        return exc.reason


async def test_buyers_racing_for_fewer_units_get_exactly_the_units(maria_inventory):
    inv = maria_inventory
    await inv.set_stock("HOT", 50, "initial stock", actor="test")
    results = await asyncio.gather(
        *(inv.reserve(f"order-{i}", [("HOT", 1)], 600) for i in range(200)),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 50
    assert {getattr(e, "reason", repr(e)) for e in failed} == {"INSUFFICIENT_STOCK"}
    assert await balances(inv, "HOT") == (50, 50)
    assert (await inv.availability(["HOT"]))[0].available == 0
    await assert_ledger_consistent(inv)

    # Every winner commits, each commit retried three times at once: sold exactly once.
    commits = await asyncio.gather(
        *(inv.commit(r.order_id) for r in ok for _ in range(3)), return_exceptions=True
    )
    assert all(not isinstance(c, BaseException) for c in commits), commits
    assert await balances(inv, "HOT") == (0, 0)
    ledger = Counter(e.kind for e in await inv.ledger("HOT", limit=200))
    assert ledger == {"restock": 1, "reserve": 50, "commit": 50}
    await assert_ledger_consistent(inv)


async def test_mixed_quantities_never_oversell(maria_inventory):
    inv = maria_inventory
    await inv.set_stock("MIX", 97, "initial stock", actor="test")
    rng = random.Random(7)
    wanted = {f"o{i}": rng.randint(1, 4) for i in range(150)}
    results = await asyncio.gather(
        *(inv.reserve(order, [("MIX", q)], 600) for order, q in wanted.items()),
        return_exceptions=True,
    )
    won = sum(wanted[r.order_id] for r in results if not isinstance(r, BaseException))
    on_hand, reserved = await balances(inv, "MIX")
    assert (on_hand, reserved) == (97, won)
    assert 97 - won < 4  # buyers of one unit exist until the end: little can be left over
    await assert_ledger_consistent(inv)


async def test_concurrent_retries_of_one_reserve_reserve_once(maria_inventory):
    inv = maria_inventory
    await inv.set_stock("A", 10, "initial stock", actor="test")
    await inv.set_stock("B", 10, "initial stock", actor="test")
    results = await asyncio.gather(
        *(inv.reserve("order-x", [("A", 2), ("B", 3)], 600) for _ in range(25))
    )
    assert len({r.reservation_id for r in results}) == 1
    assert await balances(inv, "A") == (10, 2)
    assert await balances(inv, "B") == (10, 3)
    releases = await asyncio.gather(*(inv.release("order-x", "cancelled") for _ in range(10)))
    assert {r.status for r in releases} == {ReservationStatus.RELEASED}
    assert await balances(inv, "A") == (10, 0)
    assert len(await inv.ledger("A")) == 3  # restock, reserve, release: once each
    await assert_ledger_consistent(inv)


async def test_multi_line_reservations_never_deadlock_fail_the_caller(maria_inventory):
    inv = maria_inventory
    skus = [f"SKU-{c}" for c in "ABCDEF"]
    for sku in skus:
        await inv.set_stock(sku, 60, "initial stock", actor="test")
    rng = random.Random(11)
    orders = {}
    for i in range(160):
        chosen = rng.sample(skus, rng.randint(2, 5))
        rng.shuffle(chosen)  # callers send lines in any order; the service sorts them
        orders[f"m{i}"] = [(sku, rng.randint(1, 3)) for sku in chosen]
    retries_before = metrics.TX_RETRIES._value.get()

    async def buyer(order_id, lines):
        result = await outcome(inv.reserve(order_id, lines, 600))
        if result == "ok":  # then, concurrently with other buyers, commit or release
            result = await outcome(
                inv.commit(order_id) if rng.random() < 0.5 else inv.release(order_id, "changed")
            )
        return result

    results = await asyncio.gather(*(buyer(o, lines) for o, lines in orders.items()))
    # Only business outcomes reach callers: no deadlock or lock-wait error escaped.
    assert set(results) <= {"ok", "INSUFFICIENT_STOCK"}
    assert results.count("ok") > 20
    print("transaction retries:", metrics.TX_RETRIES._value.get() - retries_before)
    await assert_ledger_consistent(inv)
    for sku in skus:
        assert (await balances(inv, sku))[1] == 0


async def test_expiry_races_buyers_job_and_late_commits(maria_inventory, clock):
    inv = maria_inventory
    await inv.set_stock("E", 30, "initial stock", actor="test")
    early = await asyncio.gather(*(inv.reserve(f"early-{i}", [("E", 1)], 10) for i in range(30)))
    assert len(early) == 30 and (await inv.availability(["E"]))[0].available == 0
    clock.advance(10)  # every early reservation expires; nothing has run
    assert (await inv.availability(["E"]))[0].available == 30

    calls = [inv.reserve(f"late-{i}", [("E", 1)], 600) for i in range(45)]
    calls += [inv.commit(f"early-{i}") for i in range(0, 30, 3)]
    calls += [inv.expire_due() for _ in range(3)]
    calls += [inv.release(f"early-{i}") for i in range(1, 30, 5)]
    results = await asyncio.gather(*(outcome(c) for c in calls))
    late, commits = results[:45], results[45:55]
    assert late.count("ok") == 30 and set(late) == {"ok", "INSUFFICIENT_STOCK"}
    assert set(commits) == {"RESERVATION_EXPIRED"}  # an expired reservation is never sold
    assert await balances(inv, "E") == (30, 30)
    expiries = [e for e in await inv.ledger("E", limit=200) if e.kind == "expiry"]
    assert len(expiries) == 30 and len({e.order_id for e in expiries}) == 30  # once each
    await assert_ledger_consistent(inv)
