"""Post-run correctness audit of the shop: compares the services' own records, read directly
from each service's database (read-only), and lists every mismatch.

Checks (each one a pure function over a `Snapshot`, so tests drive them with hand-made rows):
- `confirmed_orders_captured_once`: every confirmed (or shipped) order has exactly one captured
  payment, of the order's total, and no other payment holding money for it.
- `no_money_without_order`: no authorized or captured payment whose order is unknown, failed or
  cancelled (a hold never voided, a charge never refunded).
- `no_stale_reservations`: no reservation still `active` past its expiry time (plus a grace for
  the expiry sweep).
- `ledger_matches_balances`: per SKU, the inventory ledger sums equal the stock balances and the
  reserved balance equals the active reservation lines (inventory's own audit rule).
- `units_sold_equal_committed`: per order and SKU, the units on confirmed orders equal the units
  inventory committed for that order, and no stock is committed for an order that did not sell.
- `no_locked_carts`: no cart locked by an order that has finished (or is unknown).

    .venv/bin/python -m tools.audit --data-dir /tmp/vanity-load-xyz       # SQLite files
    .venv/bin/python -m tools.audit --mariadb mysql+asyncmy://root@127.0.0.1:3306 --prefix vanity_load_
    .venv/bin/python -m tools.audit --data-dir DIR --demo-broken          # corrupt a copy, show it fails

Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

SERVICES_READ = ("checkout", "payments", "inventory", "cart")
# Orders that sold: paid for and stock committed (this audit runs on load runs: no refunds).
SOLD = frozenset({"confirmed", "shipped"})
# Orders whose saga is still on its way: their cart lock, hold and reservation are legitimate.
IN_FLIGHT = frozenset({"pending", "awaiting_payment"})
# Orders that must hold no money.
UNSOLD = frozenset({"failed", "cancelled"})
CAPTURED = frozenset({"captured"})
HOLDING_MONEY = frozenset({"authorized", "captured"})


@dataclass(frozen=True)
class Order:
    id: str
    status: str
    total_minor: int
    lines: Mapping[str, int]  # sku -> quantity


@dataclass(frozen=True)
class Payment:
    id: str
    order_id: str
    status: str
    amount_minor: int
    captured_minor: int


@dataclass(frozen=True)
class Reservation:
    id: str
    order_id: str
    status: str
    expires_at: datetime


@dataclass
class Snapshot:
    orders: dict[str, Order] = field(default_factory=dict)
    payments: list[Payment] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)
    balances: dict[str, tuple[int, int]] = field(default_factory=dict)  # sku -> on_hand, reserved
    ledger_sums: dict[str, tuple[int, int]] = field(default_factory=dict)
    active_lines: dict[str, int] = field(default_factory=dict)  # sku -> reserved by active lines
    committed: dict[str, dict[str, int]] = field(default_factory=dict)  # order -> sku -> units
    locked_carts: dict[str, str] = field(default_factory=dict)  # cart id -> locking order id
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    detail: str


# ------------------------------------------------------------------------------ checks


def confirmed_orders_captured_once(snap: Snapshot) -> list[Finding]:
    by_order: dict[str, list[Payment]] = defaultdict(list)
    for payment in snap.payments:
        by_order[payment.order_id].append(payment)
    findings = []
    for order in snap.orders.values():
        if order.status not in SOLD:
            continue
        captured = [p for p in by_order[order.id] if p.status in CAPTURED]
        others = [p for p in by_order[order.id] if p.status in HOLDING_MONEY - CAPTURED]
        if len(captured) != 1:
            findings.append(
                Finding(
                    "confirmed_orders_captured_once",
                    order.id,
                    f"{len(captured)} captured payments for a {order.status} order",
                )
            )
        elif captured[0].captured_minor != order.total_minor:
            findings.append(
                Finding(
                    "confirmed_orders_captured_once",
                    order.id,
                    f"captured {captured[0].captured_minor} of a total of {order.total_minor}",
                )
            )
        for extra in others:
            findings.append(
                Finding(
                    "confirmed_orders_captured_once",
                    order.id,
                    f"payment {extra.id} still {extra.status} beside the capture",
                )
            )
    return findings


def no_money_without_order(snap: Snapshot) -> list[Finding]:
    findings = []
    for payment in snap.payments:
        if payment.status not in HOLDING_MONEY:
            continue
        order = snap.orders.get(payment.order_id)
        if order is None:
            detail = f"{payment.status} payment for an unknown order {payment.order_id}"
        elif order.status in UNSOLD:
            detail = f"{payment.status} payment for a {order.status} order {order.id}"
        else:
            continue
        findings.append(Finding("no_money_without_order", payment.id, detail))
    return findings


def no_stale_reservations(
    snap: Snapshot, grace: timedelta = timedelta(seconds=30)
) -> list[Finding]:
    return [
        Finding(
            "no_stale_reservations",
            r.id,
            f"active {(snap.read_at - r.expires_at).total_seconds():.0f}s past its expiry "
            f"(order {r.order_id})",
        )
        for r in snap.reservations
        if r.status == "active" and r.expires_at + grace < snap.read_at
    ]


def ledger_matches_balances(snap: Snapshot) -> list[Finding]:
    findings = []
    for sku in sorted(set(snap.balances) | set(snap.ledger_sums) | set(snap.active_lines)):
        balance = snap.balances.get(sku, (0, 0))
        ledger = snap.ledger_sums.get(sku, (0, 0))
        active = snap.active_lines.get(sku, 0)
        if balance != ledger or balance[1] != active:
            findings.append(
                Finding(
                    "ledger_matches_balances",
                    sku,
                    f"balance on_hand/reserved {balance}, ledger {ledger}, active lines {active}",
                )
            )
    return findings


def units_sold_equal_committed(snap: Snapshot) -> list[Finding]:
    findings = []
    for order_id in sorted(set(snap.committed) | {o.id for o in snap.orders.values()}):
        order = snap.orders.get(order_id)
        if order is not None and order.status in IN_FLIGHT:
            continue  # its saga may be between commit and confirm
        sold = dict(order.lines) if order and order.status in SOLD else {}
        committed = {sku: n for sku, n in snap.committed.get(order_id, {}).items() if n}
        if sold != committed:
            status = order.status if order else "unknown"
            findings.append(
                Finding(
                    "units_sold_equal_committed",
                    order_id,
                    f"{status} order: sold {sold or '{}'}, committed {committed or '{}'}",
                )
            )
    return findings


def no_locked_carts(snap: Snapshot) -> list[Finding]:
    findings = []
    for cart_id, order_id in sorted(snap.locked_carts.items()):
        order = snap.orders.get(order_id)
        if order is not None and order.status in IN_FLIGHT:
            continue
        status = order.status if order else "unknown"
        findings.append(
            Finding("no_locked_carts", cart_id, f"locked by a {status} order {order_id}")
        )
    return findings


CHECKS: dict[str, Callable[[Snapshot], list[Finding]]] = {
    "confirmed_orders_captured_once": confirmed_orders_captured_once,
    "no_money_without_order": no_money_without_order,
    "no_stale_reservations": no_stale_reservations,
    "ledger_matches_balances": ledger_matches_balances,
    "units_sold_equal_committed": units_sold_equal_committed,
    "no_locked_carts": no_locked_carts,
}


@dataclass
class AuditResult:
    counts: dict[str, int]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_json(self) -> dict:
        return {"counts": self.counts, "findings": [asdict(f) for f in self.findings]}

    def render(self, limit: int = 20) -> str:
        lines = ["audit: " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        per_check = Counter(f.check for f in self.findings)
        for name in CHECKS:
            mark = "FAIL" if per_check[name] else "ok"
            lines.append(f"  {name:<32} {mark}{f' ({per_check[name]})' if per_check[name] else ''}")
        for finding in self.findings[:limit]:
            lines.append(f"    {finding.check}: {finding.subject}: {finding.detail}")
        if len(self.findings) > limit:
            lines.append(f"    ... and {len(self.findings) - limit} more")
        return "\n".join(lines)


def audit(snap: Snapshot) -> AuditResult:
    findings = [f for check in CHECKS.values() for f in check(snap)]
    statuses = Counter(o.status for o in snap.orders.values())
    payments = Counter(p.status for p in snap.payments)
    counts = {
        "orders": len(snap.orders),
        **{f"orders_{k}": v for k, v in sorted(statuses.items())},
        "payments": len(snap.payments),
        **{f"payments_{k}": v for k, v in sorted(payments.items())},
        "reservations": len(snap.reservations),
        "skus": len(snap.balances),
        "units_committed": sum(sum(v.values()) for v in snap.committed.values()),
        "locked_carts": len(snap.locked_carts),
    }
    return AuditResult(counts, findings)


# ------------------------------------------------------------------------------ reading


def read_only_url(url: str) -> str:
    """SQLite files are opened read-only (`mode=ro`); a MariaDB session is made read-only by
    `read_snapshot`."""
    if url.startswith("sqlite") and "mode=ro" not in url:
        path = url.split(":///", 1)[1]
        return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    return url


async def _read(url: str, reader) -> None:
    engine = create_async_engine(read_only_url(url))
    try:
        async with engine.connect() as conn:
            if not url.startswith("sqlite"):
                # one consistent snapshot per database, and no way to write by mistake
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                await conn.execute(text("SET SESSION TRANSACTION READ ONLY"))
                await conn.commit()
            async with conn.begin():
                await reader(conn)
    finally:
        await engine.dispose()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def read_snapshot(urls: Mapping[str, str]) -> Snapshot:
    """The records the checks compare, read from each service's database with its own table
    definitions (and inventory's own ledger queries)."""
    from vanity_cart.tables import carts
    from vanity_checkout.tables import order_items, orders
    from vanity_inventory import repository as inventory_repo
    from vanity_inventory.tables import inventory_logs, reservations
    from vanity_payments.tables import payments

    snap = Snapshot()

    async def checkout(conn) -> None:
        lines: dict[str, dict[str, int]] = defaultdict(dict)
        for r in await conn.execute(
            select(order_items.c.order_id, order_items.c.sku, order_items.c.quantity)
        ):
            lines[r.order_id][r.sku] = lines[r.order_id].get(r.sku, 0) + int(r.quantity)
        for r in await conn.execute(select(orders.c.id, orders.c.status, orders.c.total_minor)):
            snap.orders[r.id] = Order(r.id, r.status, int(r.total_minor), lines.get(r.id, {}))

    async def payments_db(conn) -> None:
        query = select(
            payments.c.id,
            payments.c.order_id,
            payments.c.status,
            payments.c.amount_minor,
            payments.c.captured_minor,
        )
        snap.payments = [
            Payment(r.id, r.order_id, r.status, int(r.amount_minor), int(r.captured_minor))
            for r in await conn.execute(query)
        ]

    async def inventory(conn) -> None:
        query = select(
            reservations.c.id,
            reservations.c.order_id,
            reservations.c.status,
            reservations.c.expires_at,
        )
        snap.reservations = [
            Reservation(r.id, r.order_id, r.status, _aware(r.expires_at))
            for r in await conn.execute(query)
        ]
        snap.balances = await inventory_repo.all_balances(conn)
        snap.ledger_sums = await inventory_repo.ledger_sums(conn)
        snap.active_lines = await inventory_repo.active_line_sums(conn)
        order_of = {r.id: r.order_id for r in snap.reservations}
        commits = select(
            inventory_logs.c.sku,
            inventory_logs.c.delta_on_hand,
            inventory_logs.c.order_id,
            inventory_logs.c.reservation_id,
        ).where(inventory_logs.c.kind == "commit")
        for r in await conn.execute(commits):
            order_id = r.order_id or order_of.get(r.reservation_id) or f"?{r.reservation_id}"
            per_sku = snap.committed.setdefault(order_id, {})
            per_sku[r.sku] = per_sku.get(r.sku, 0) - int(r.delta_on_hand)

    async def cart(conn) -> None:
        rows = await conn.execute(
            select(carts.c.id, carts.c.locked_by).where(carts.c.locked_by.is_not(None))
        )
        snap.locked_carts = {r.id: r.locked_by for r in rows}

    readers = {"checkout": checkout, "payments": payments_db, "inventory": inventory, "cart": cart}
    for service in SERVICES_READ:
        await _read(urls[service], readers[service])
    snap.read_at = datetime.now(UTC)
    return snap


def sqlite_urls(data_dir: Path) -> dict[str, str]:
    return {s: f"sqlite+aiosqlite:///{data_dir / s}.db" for s in SERVICES_READ}


def mariadb_urls(server: str, prefix: str) -> dict[str, str]:
    return {s: f"{server.rstrip('/')}/{prefix}{s}" for s in SERVICES_READ}


def run_audit(urls: Mapping[str, str]) -> AuditResult:
    return audit(asyncio.run(read_snapshot(urls)))


# ------------------------------------------------------------------ demo: a broken build


def corrupt_copy(data_dir: Path, into: Path) -> list[str]:
    """Copies a run's SQLite databases and breaks them as a faulty build would: a confirmed
    order's payment captured twice (a second captured row), and one commit row gone from the
    inventory ledger. Returns what was done."""
    for service in SERVICES_READ:
        # SQLite's backup API: the copy includes what still sits in the write-ahead log
        source = sqlite3.connect(f"file:{data_dir / service}.db?mode=ro", uri=True)
        with sqlite3.connect(into / f"{service}.db") as copy:
            source.backup(copy)
        source.close()
    from sqlalchemy import create_engine, insert
    from vanity_payments.tables import payments

    done = []
    engine = create_engine(f"sqlite:///{into / 'payments.db'}")
    with engine.begin() as conn:
        captured = select(payments).where(payments.c.status == "captured")
        row = conn.execute(captured.order_by(payments.c.created_at).limit(1)).first()
        if row:
            record = {**row._asdict(), "id": "demo-double-capture"}
            record["idempotency_key"] = "demo-double-capture"
            conn.execute(insert(payments).values(**record))
            done.append(f"payment of order {record['order_id']} captured a second time")
    engine.dispose()
    with sqlite3.connect(into / "inventory.db") as db:
        row = db.execute(
            "SELECT id, sku, order_id FROM inventory_logs WHERE kind = 'commit' LIMIT 1"
        ).fetchone()
        if row:
            # a build without the ledger's append-only guard (a trigger from the migrations)
            triggers = db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                ("inventory_logs",),
            ).fetchall()
            for (trigger,) in triggers:
                db.execute(f'DROP TRIGGER "{trigger}"')
            db.execute("DELETE FROM inventory_logs WHERE id = ?", (row[0],))
            done.append(f"commit ledger row of {row[1]} (order {row[2]}) deleted")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data-dir", type=Path, help="a suite's data dir (SQLite files)")
    source.add_argument("--mariadb", help="server URL, e.g. mysql+asyncmy://root@127.0.0.1:3306")
    parser.add_argument("--prefix", default="vanity_load_", help="MariaDB database name prefix")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument(
        "--demo-broken",
        action="store_true",
        help="audit a corrupted copy of the SQLite databases (a double capture, a lost ledger "
        "row) to show the audit fails on it",
    )
    ns = parser.parse_args(argv)
    if ns.demo_broken:
        if ns.data_dir is None:
            parser.error("--demo-broken works on a copy of SQLite files: give --data-dir")
        with tempfile.TemporaryDirectory(prefix="vanity-audit-demo-") as tmp:
            for change in corrupt_copy(ns.data_dir, Path(tmp)):
                print(f"corrupted: {change}")
            result = run_audit(sqlite_urls(Path(tmp)))
    elif ns.data_dir is not None:
        result = run_audit(sqlite_urls(ns.data_dir))
    else:
        result = run_audit(mariadb_urls(ns.mariadb, ns.prefix))
    print(result.render())
    if ns.json:
        ns.json.write_text(json.dumps(result.as_json(), indent=2))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
