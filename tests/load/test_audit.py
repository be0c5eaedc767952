"""tools.audit on small hand-made databases: a consistent shop passes every check, and each
check fails on the one broken record a faulty build would leave behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Boolean, DateTime, Integer, String, delete, insert, update
from sqlalchemy.ext.asyncio import create_async_engine
from vanity_cart import tables as cart_tables
from vanity_checkout import tables as checkout_tables
from vanity_inventory import tables as inventory_tables
from vanity_payments import tables as payments_tables

from tools import audit

# Read when the module is collected, which can be many minutes before a test runs in a long
# session: "future" is a week ahead so a live reservation cannot lapse meanwhile.
NOW = datetime.now(UTC)
PAST_TTL = NOW - timedelta(minutes=10)
FUTURE = NOW + timedelta(days=7)
METADATA = {
    "checkout": checkout_tables.metadata,
    "payments": payments_tables.metadata,
    "inventory": inventory_tables.metadata,
    "cart": cart_tables.metadata,
}


def _filler(column):
    """A value for a required column the test does not care about."""
    kind = column.type
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, Integer):
        return 0
    if isinstance(kind, DateTime) or "DateTime" in type(kind).__name__:
        return NOW
    if isinstance(kind, String):
        return f"x-{column.name}"[: kind.length or 64]
    return {}


def row(table, **values):
    for column in table.columns:
        required = not column.nullable and column.server_default is None
        if column.name not in values and required and column.default is None:
            if column.primary_key and column.autoincrement is True:
                continue
            if column.primary_key and isinstance(column.type, Integer):
                continue
            values[column.name] = _filler(column)
    return insert(table).values(**values)


def reserve_rows(order_id, sku, quantity, status, expires_at, line_active):
    t = inventory_tables
    return [
        row(t.reservations, id=f"r-{order_id}", order_id=order_id, status=status,
            expires_at=expires_at),
        row(t.reservation_lines, reservation_id=f"r-{order_id}", sku=sku, quantity=quantity,
            expires_at=expires_at, active=line_active),
    ]  # fmt: skip


def ledger(sku, kind, d_on_hand, d_reserved, on_hand_after, reserved_after, order_id=None):
    return row(
        inventory_tables.inventory_logs,
        sku=sku,
        kind=kind,
        delta_on_hand=d_on_hand,
        delta_reserved=d_reserved,
        on_hand_after=on_hand_after,
        reserved_after=reserved_after,
        reason=kind,
        actor="test",
        order_id=order_id,
        reservation_id=f"r-{order_id}" if order_id else None,
    )


def consistent_shop() -> dict[str, list]:
    """One confirmed order (2 x SERUM, 3000 captured), one declined order (stock released,
    payment failed), one abandoned 3-D Secure order still awaiting payment (reserved, cart
    locked, hold not yet voided), and LIP never sold."""
    c, p = checkout_tables, payments_tables
    return {
        "checkout": [
            row(
                c.orders,
                id="o-paid",
                user_id="u1",
                status="confirmed",
                total_minor=3000,
                currency="EUR",
                idempotency_key="k1",
            ),
            row(
                c.order_items,
                order_id="o-paid",
                sku="SERUM",
                name="Serum",
                quantity=2,
                unit_price_minor=1500,
                currency="EUR",
            ),
            row(
                c.orders,
                id="o-declined",
                user_id="u2",
                status="failed",
                total_minor=1500,
                currency="EUR",
                idempotency_key="k2",
                failure_reason="payment_declined",
            ),
            row(
                c.order_items,
                order_id="o-declined",
                sku="SERUM",
                name="Serum",
                quantity=1,
                unit_price_minor=1500,
                currency="EUR",
            ),
            row(
                c.orders,
                id="o-3ds",
                user_id="u3",
                status="awaiting_payment",
                total_minor=1500,
                currency="EUR",
                idempotency_key="k3",
            ),
            row(
                c.order_items,
                order_id="o-3ds",
                sku="SERUM",
                name="Serum",
                quantity=1,
                unit_price_minor=1500,
                currency="EUR",
            ),
        ],
        "payments": [
            row(
                p.payments,
                id="p-paid",
                order_id="o-paid",
                user_id="u1",
                idempotency_key="pk1",
                status="captured",
                amount_minor=3000,
                captured_minor=3000,
                currency="EUR",
                provider="mock",
            ),
            row(
                p.payments,
                id="p-declined",
                order_id="o-declined",
                user_id="u2",
                idempotency_key="pk2",
                status="failed",
                amount_minor=1500,
                currency="EUR",
                provider="mock",
            ),
            row(
                p.payments,
                id="p-3ds",
                order_id="o-3ds",
                user_id="u3",
                idempotency_key="pk3",
                status="authorized",
                amount_minor=1500,
                currency="EUR",
                provider="mock",
            ),
        ],
        "inventory": [
            row(inventory_tables.stock_items, sku="SERUM", on_hand=8, reserved=1),
            row(inventory_tables.stock_items, sku="LIP", on_hand=5, reserved=0),
            ledger("SERUM", "restock", 10, 0, 10, 0),
            ledger("LIP", "restock", 5, 0, 5, 0),
            *reserve_rows("o-paid", "SERUM", 2, "committed", PAST_TTL, False),
            ledger("SERUM", "reserve", 0, 2, 10, 2, "o-paid"),
            ledger("SERUM", "commit", -2, -2, 8, 0, "o-paid"),
            *reserve_rows("o-declined", "SERUM", 1, "released", PAST_TTL, False),
            ledger("SERUM", "reserve", 0, 1, 8, 1, "o-declined"),
            ledger("SERUM", "release", 0, -1, 8, 0, "o-declined"),
            *reserve_rows("o-3ds", "SERUM", 1, "active", FUTURE, True),
            ledger("SERUM", "reserve", 0, 1, 8, 1, "o-3ds"),
        ],
        "cart": [
            row(cart_tables.carts, id="cart-u1", user_id="u1"),
            row(cart_tables.carts, id="cart-u3", user_id="u3", locked_by="o-3ds", locked_at=NOW),
        ],
    }


def build(tmp: Path, statements: dict[str, list], breakage: dict[str, list] | None = None):
    async def go():
        for service, metadata in METADATA.items():
            engine = create_async_engine(f"sqlite+aiosqlite:///{tmp / service}.db")
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                for statement in statements[service] + (breakage or {}).get(service, []):
                    await conn.execute(statement)
            await engine.dispose()

    asyncio.run(go())
    return audit.run_audit(audit.sqlite_urls(tmp))


def test_a_consistent_shop_passes_every_check(tmp_path):
    result = build(tmp_path, consistent_shop())
    assert result.findings == []
    assert result.counts["orders_confirmed"] == 1
    assert result.counts["payments_captured"] == 1
    assert result.counts["units_committed"] == 2


c, p, i = checkout_tables, payments_tables, inventory_tables
BREAKAGES = {
    "captured twice": (
        "confirmed_orders_captured_once",
        {"payments": [row(p.payments, id="p-again", order_id="o-paid", user_id="u1",
                          idempotency_key="pk9", status="captured", amount_minor=3000,
                          captured_minor=3000, currency="EUR", provider="mock")]},
    ),
    "captured less than the total": (
        "confirmed_orders_captured_once",
        {"payments": [update(p.payments).where(p.payments.c.id == "p-paid")
                      .values(captured_minor=2999)]},
    ),
    "confirmed without a capture": (
        "confirmed_orders_captured_once",
        {"payments": [update(p.payments).where(p.payments.c.id == "p-paid")
                      .values(status="voided")]},
    ),
    "hold never voided for a failed order": (
        "no_money_without_order",
        {"payments": [update(p.payments).where(p.payments.c.id == "p-declined")
                      .values(status="authorized")]},
    ),
    "captured payment without an order": (
        "no_money_without_order",
        {"payments": [row(p.payments, id="p-ghost", order_id="o-ghost", user_id="u9",
                          idempotency_key="pk8", status="captured", amount_minor=100,
                          captured_minor=100, currency="EUR", provider="mock")]},
    ),
    "reservation active past its expiry": (
        "no_stale_reservations",
        {"inventory": [update(i.reservations).where(i.reservations.c.id == "r-o-3ds")
                       .values(expires_at=PAST_TTL)]},
    ),
    "ledger row lost": (
        "ledger_matches_balances",
        {"inventory": [delete(i.inventory_logs).where(i.inventory_logs.c.kind == "release")]},
    ),
    "reserved balance without reservation lines": (
        "ledger_matches_balances",
        {"inventory": [update(i.reservation_lines)
                       .where(i.reservation_lines.c.reservation_id == "r-o-3ds")
                       .values(active=False)]},
    ),
    "stock committed for a declined order": (
        "units_sold_equal_committed",
        {"inventory": [ledger("LIP", "commit", -1, 0, 4, 0, "o-declined"),
                       update(i.stock_items).where(i.stock_items.c.sku == "LIP")
                       .values(on_hand=4)]},
    ),
    "confirmed order never committed": (
        "units_sold_equal_committed",
        {"checkout": [row(c.order_items, order_id="o-paid", sku="LIP", name="Lip", quantity=1,
                          unit_price_minor=0, currency="EUR")]},
    ),
    "cart left locked by a finished order": (
        "no_locked_carts",
        {"cart": [update(cart_tables.carts).where(cart_tables.carts.c.id == "cart-u1")
                  .values(locked_by="o-paid", locked_at=NOW)]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_each_check_fails_on_a_broken_record(tmp_path, name):
    check, breakage = BREAKAGES[name]
    result = build(tmp_path, consistent_shop(), breakage)
    assert not result.ok
    assert {f.check for f in result.findings} == {check}, result.render()


def test_demo_broken_corrupts_a_copy_and_the_audit_fails(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert build(run, consistent_shop()).ok
    broken = tmp_path / "broken"
    broken.mkdir()
    changes = audit.corrupt_copy(run, broken)
    assert len(changes) == 2
    result = audit.run_audit(audit.sqlite_urls(broken))
    checks = {f.check for f in result.findings}
    assert {"confirmed_orders_captured_once", "ledger_matches_balances"} <= checks
    assert audit.run_audit(audit.sqlite_urls(run)).ok  # the run's own files are untouched
