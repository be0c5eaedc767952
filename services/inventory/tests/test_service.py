"""Use cases on SQLite and MariaDB: reservations, expiry without any job, admin stock, ledger,
audit and low-stock notification."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from vanity_common.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from vanity_inventory.domain import LedgerKind, ReservationStatus, StockLevel

from .conftest import assert_ledger_consistent, balances


async def stock(inventory, sku: str, qty: int) -> None:
    await inventory.set_stock(sku, qty, "initial stock", actor="test")


async def available(inventory, sku: str) -> int:
    return (await inventory.availability([sku]))[0].available


async def test_reserve_commit_sells_and_writes_the_ledger(inventory):
    await stock(inventory, "LIP-1", 10)
    await stock(inventory, "EYE-1", 3)
    r = await inventory.reserve("order-1", [("LIP-1", 2), ("EYE-1", 1)], 600)
    assert r.status is ReservationStatus.ACTIVE
    assert r.lines == {"EYE-1": 1, "LIP-1": 2}
    assert await balances(inventory, "LIP-1") == (10, 2)
    assert await available(inventory, "LIP-1") == 8

    c = await inventory.commit("order-1")
    assert c.status is ReservationStatus.COMMITTED
    assert await balances(inventory, "LIP-1") == (8, 0)
    assert await balances(inventory, "EYE-1") == (2, 0)

    kinds = [e.kind for e in reversed(await inventory.ledger("LIP-1"))]
    assert kinds == ["restock", "reserve", "commit"]
    last = (await inventory.ledger("LIP-1"))[0]
    assert (last.delta_on_hand, last.delta_reserved) == (-2, -2)
    assert (last.on_hand_after, last.reserved_after, last.order_id) == (8, 0, "order-1")
    await assert_ledger_consistent(inventory)


async def test_retried_reserve_and_commit_change_nothing(inventory):
    await stock(inventory, "SKU-A", 5)
    first = await inventory.reserve("order-1", [("SKU-A", 2)], 600)
    again = await inventory.reserve("order-1", [("SKU-A", 2)], 600)
    assert again.reservation_id == first.reservation_id
    assert await balances(inventory, "SKU-A") == (5, 2)
    with pytest.raises(Conflict) as mismatch:
        await inventory.reserve("order-1", [("SKU-A", 3)], 600)
    assert mismatch.value.reason == "RESERVATION_MISMATCH"

    await inventory.commit("order-1")
    ledger_size = len(await inventory.ledger("SKU-A"))
    replay = await inventory.commit("order-1")
    assert replay.status is ReservationStatus.COMMITTED
    replayed_reserve = await inventory.reserve("order-1", [("SKU-A", 2)], 600)
    assert replayed_reserve.status is ReservationStatus.COMMITTED
    assert await balances(inventory, "SKU-A") == (3, 0)
    assert len(await inventory.ledger("SKU-A")) == ledger_size
    await assert_ledger_consistent(inventory)


async def test_all_or_nothing_and_error_reasons(inventory):
    await stock(inventory, "A", 5)
    await stock(inventory, "B", 1)
    with pytest.raises(FailedPrecondition) as short:
        await inventory.reserve("o1", [("A", 2), ("B", 2)], 60)
    assert short.value.reason == "INSUFFICIENT_STOCK"
    assert "B" in short.value.message and "A" not in short.value.message.split(":")[1]
    assert await balances(inventory, "A") == (5, 0)  # nothing of the order was kept
    with pytest.raises(NotFound) as unknown:
        await inventory.reserve("o1", [("A", 1), ("NOPE", 1)], 60)
    assert unknown.value.reason == "UNKNOWN_SKU"
    with pytest.raises(InvalidArgument) as bad:
        await inventory.reserve("o1", [("A", 0)], 60)
    assert bad.value.errors[0].field == "lines[0].quantity"
    with pytest.raises(InvalidArgument) as ttl:
        await inventory.reserve("o1", [("A", 1)], 3601)
    assert ttl.value.errors[0].field == "ttl_seconds"
    with pytest.raises(InvalidArgument):
        await inventory.reserve("o1", [], 60)
    with pytest.raises(NotFound) as missing:
        await inventory.commit("never-reserved")
    assert missing.value.reason == "RESERVATION_NOT_FOUND"
    # The failed attempts left no reservation: the order can still reserve.
    assert (await inventory.reserve("o1", [("A", 5)], 60)).lines == {"A": 5}
    await assert_ledger_consistent(inventory)


async def test_release_is_idempotent_and_cannot_undo_a_sale(inventory):
    await stock(inventory, "A", 4)
    await inventory.reserve("o1", [("A", 3)], 60)
    released = await inventory.release("o1", "payment_declined")
    assert released.status is ReservationStatus.RELEASED
    assert await balances(inventory, "A") == (4, 0)
    assert (await inventory.release("o1")).status is ReservationStatus.RELEASED
    assert await balances(inventory, "A") == (4, 0)
    entry = (await inventory.ledger("A"))[0]
    assert (entry.kind, entry.reason) == ("release", "released: payment_declined")
    with pytest.raises(FailedPrecondition) as released_commit:
        await inventory.commit("o1")
    assert released_commit.value.reason == "RESERVATION_RELEASED"

    unknown = await inventory.release("nothing-here")
    assert (unknown.status, unknown.lines) == (ReservationStatus.RELEASED, {})

    await inventory.reserve("o2", [("A", 1)], 60)
    await inventory.commit("o2")
    with pytest.raises(FailedPrecondition) as committed:
        await inventory.release("o2")
    assert committed.value.reason == "RESERVATION_COMMITTED"
    await assert_ledger_consistent(inventory)


async def test_expired_reservation_stops_counting_without_any_job(inventory, clock):
    await stock(inventory, "HOT", 2)
    await inventory.reserve("early", [("HOT", 2)], 30)
    assert await available(inventory, "HOT") == 0
    with pytest.raises(FailedPrecondition):
        await inventory.reserve("blocked", [("HOT", 1)], 30)

    clock.advance(29.999)
    assert await available(inventory, "HOT") == 0
    clock.advance(0.001)  # exactly the expiry time: no job has run
    assert await available(inventory, "HOT") == 2
    assert (await inventory.availability(["HOT"]))[0].level is StockLevel.LOW
    assert (await inventory.get_reservation("early")).status is ReservationStatus.EXPIRED
    assert await balances(inventory, "HOT") == (2, 2)  # not reclaimed yet, yet not counted

    # A buyer gets the units: reserve reclaims the expired reservation itself.
    later = await inventory.reserve("later", [("HOT", 2)], 30)
    assert later.status is ReservationStatus.ACTIVE
    assert await balances(inventory, "HOT") == (2, 2)
    kinds = [e.kind for e in reversed(await inventory.ledger("HOT"))]
    assert kinds == ["restock", "reserve", "expiry", "reserve"]

    with pytest.raises(FailedPrecondition) as expired:
        await inventory.commit("early")
    assert expired.value.reason == "RESERVATION_EXPIRED"
    await assert_ledger_consistent(inventory)


async def test_commit_of_expired_unreclaimed_reservation_fails_and_reclaims(inventory, clock):
    await stock(inventory, "A", 3)
    await inventory.reserve("o1", [("A", 3)], 10)
    clock.advance(10)
    with pytest.raises(FailedPrecondition) as expired:
        await inventory.commit("o1")
    assert expired.value.reason == "RESERVATION_EXPIRED"
    assert await balances(inventory, "A") == (3, 0)  # never sold, units reclaimed
    assert (await inventory.get_reservation("o1")).status is ReservationStatus.EXPIRED
    # Releasing it afterwards is a harmless no-op (saga compensation).
    assert (await inventory.release("o1")).status is ReservationStatus.EXPIRED
    await assert_ledger_consistent(inventory)


async def test_expiry_job_marks_due_reservations_and_writes_ledger_rows(inventory, clock):
    await stock(inventory, "A", 10)
    await stock(inventory, "B", 10)
    await inventory.reserve("short", [("A", 1), ("B", 2)], 5)
    await inventory.reserve("long", [("A", 3)], 500)
    assert await inventory.expire_due() == 0
    clock.advance(5)
    assert await inventory.expire_due() == 1
    assert await inventory.expire_due() == 0  # idempotent
    assert await balances(inventory, "A") == (10, 3)
    assert await balances(inventory, "B") == (10, 0)
    entry = (await inventory.ledger("B"))[0]
    assert (entry.kind, entry.actor, entry.order_id) == ("expiry", "system:expiry", "short")
    assert (await inventory.get_reservation("long")).status is ReservationStatus.ACTIVE
    await assert_ledger_consistent(inventory)


async def test_admin_set_and_adjust_respect_reservations(inventory, clock):
    created = await inventory.set_stock("NEW", 7, "first delivery", actor="admin:1")
    assert (created.on_hand, created.available, created.level) == (7, 7, StockLevel.IN_STOCK)
    await inventory.reserve("o1", [("NEW", 4)], 60)
    with pytest.raises(FailedPrecondition) as below:
        await inventory.set_stock("NEW", 3, "count", actor="admin:1")
    assert below.value.reason == "BELOW_RESERVED"
    with pytest.raises(FailedPrecondition):
        await inventory.adjust_stock("NEW", -4, "damaged", actor="admin:1")
    after = await inventory.adjust_stock("NEW", -3, "damaged", actor="admin:1")
    assert (after.on_hand, after.reserved, after.available) == (4, 4, 0)
    restocked = await inventory.adjust_stock(
        "NEW", 20, "delivery", actor="admin:1", kind=LedgerKind.RESTOCK
    )
    assert restocked.available == 20
    with pytest.raises(InvalidArgument) as no_reason:
        await inventory.adjust_stock("NEW", 1, "   ", actor="admin:1")
    assert no_reason.value.errors[0].field == "reason"
    with pytest.raises(NotFound):
        await inventory.adjust_stock("GHOST", 1, "x", actor="admin:1")
    # An expired reservation does not block a downward correction.
    clock.advance(60)
    fixed = await inventory.set_stock("NEW", 0, "recount", actor="admin:1")
    assert (fixed.on_hand, fixed.reserved) == (0, 0)
    entries = await inventory.ledger("NEW")
    assert [e.kind for e in entries][:3] == ["adjustment", "expiry", "restock"]
    assert entries[0].actor == "admin:1" and entries[0].reason == "recount"
    await assert_ledger_consistent(inventory)


async def test_ledger_pagination(inventory):
    await stock(inventory, "P", 100)
    for i in range(7):
        await inventory.adjust_stock("P", 1, f"step {i}", actor="t")
    page1 = await inventory.ledger("P", limit=3)
    page2 = await inventory.ledger("P", before_id=page1[-1].id, limit=3)
    page3 = await inventory.ledger("P", before_id=page2[-1].id, limit=3)
    ids = [e.id for e in page1 + page2 + page3]
    assert len(ids) == 8 and ids == sorted(ids, reverse=True)
    assert [e.reason for e in page1] == ["step 6", "step 5", "step 4"]
    assert page3[-1].reason == "initial stock"
    with pytest.raises(NotFound):
        await inventory.ledger("GHOST")


async def test_audit_reports_drift_and_never_corrects_silently(inventory):
    await stock(inventory, "A", 10)
    await stock(inventory, "B", 10)
    await inventory.reserve("o1", [("A", 2)], 60)
    assert (await inventory.audit()).drift == []
    async with inventory.db.connect(write=True) as conn:  # a bug or a manual edit
        await conn.execute(text("UPDATE stock_items SET on_hand = on_hand + 5 WHERE sku = 'B'"))
    report = await inventory.audit()
    assert [(d.sku, d.on_hand, d.ledger_on_hand) for d in report.drift] == [("B", 15, 10)]
    assert await balances(inventory, "B") == (15, 0)  # reported, not "fixed"
    from vanity_inventory import metrics

    assert metrics.LEDGER_DRIFT_SKUS._value.get() == 1
    correction = await inventory.correct_from_audit("B", "recount confirmed 15", actor="admin:1")
    assert correction is not None and correction.ledger_on_hand == 10
    entry = (await inventory.ledger("B"))[0]
    assert (entry.kind, entry.delta_on_hand, entry.on_hand_after) == ("audit_correction", 5, 15)
    assert (await inventory.audit()).drift == []
    assert metrics.LEDGER_DRIFT_SKUS._value.get() == 0
    assert await inventory.correct_from_audit("B", "again", actor="admin:1") is None


async def test_ledger_is_append_only(inventory):
    await stock(inventory, "A", 1)
    for statement in (
        "UPDATE inventory_logs SET delta_on_hand = 99",
        "DELETE FROM inventory_logs",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with inventory.db.connect(write=True) as conn:
                await conn.execute(text(statement))
    assert len(await inventory.ledger("A")) == 1


async def test_low_stock_notifies_once_per_crossing(inventory, notifications):
    await stock(inventory, "L", 8)  # threshold is 5
    await inventory.reserve("o1", [("L", 2)], 60)
    assert notifications.sent == []
    await inventory.reserve("o2", [("L", 1)], 60)
    assert notifications.sent == [("L", 5, 5)]
    await inventory.reserve("o3", [("L", 1)], 60)
    assert len(notifications.sent) == 1  # still low: no second notification
    await inventory.adjust_stock("L", 10, "delivery", actor="a", kind=LedgerKind.RESTOCK)
    await inventory.reserve("o4", [("L", 10)], 60)
    assert notifications.sent[-1] == ("L", 4, 5)
    assert len(notifications.sent) == 2
    assert await inventory.sweep_low_stock() == 0


async def test_availability_levels(inventory):
    await stock(inventory, "IN", 50)
    await stock(inventory, "LOW", 3)
    await stock(inventory, "OUT", 0)
    items = await inventory.availability(["IN", "LOW", "OUT", "GHOST", "IN"])
    assert [(a.sku, a.known, a.level) for a in items] == [
        ("IN", True, StockLevel.IN_STOCK),
        ("LOW", True, StockLevel.LOW),
        ("OUT", True, StockLevel.OUT_OF_STOCK),
        ("GHOST", False, StockLevel.OUT_OF_STOCK),
    ]
    with pytest.raises(InvalidArgument):
        await inventory.availability(["  "])


async def test_a_failed_low_stock_notification_stays_in_the_outbox_until_delivered(
    database_url, clock
):
    """The claim and its outbox row commit together: a notifier that is down loses nothing,
    and the beat sweep delivers the row once it is due again."""
    from sqlalchemy import update
    from vanity_common.outbox import outbox_table, utcnow

    from .conftest import make_service

    sent: list[tuple] = []
    down = True

    async def notifier(sku, available, threshold):
        if down:
            raise ConnectionError("broker unreachable")
        sent.append((sku, available, threshold))

    service = await make_service(database_url, clock, notifier)
    try:
        await stock(service, "L", 6)
        await service.reserve("o1", [("L", 1)], 60)  # 5 left: at the threshold
        async with service.db.connect() as conn:
            [row] = (await conn.execute(outbox_table.select())).all()
        assert (row.status, row.attempts) == ("pending", 1)
        assert "broker unreachable" in row.last_error
        assert sent == []
        assert await service.sweep_low_stock() == 0  # not due yet, and nothing to claim again
        assert sent == []
        down = False
        async with service.db.connect(write=True) as conn:  # time passes: the retry is due
            await conn.execute(update(outbox_table).values(due_at=utcnow()))
        await service.sweep_low_stock()
        assert sent == [("L", 5, 5)]
        async with service.db.connect() as conn:
            [row] = (await conn.execute(outbox_table.select())).all()
        assert row.status == "sent"
    finally:
        await service.db.dispose()
