"""Disaster-recovery drill: backup, loss, point-in-time recovery, verification (`make dr-drill`).

1. Starts a scratch MariaDB of its own (mariadb-install-db + mariadbd: temporary datadir, free
   port, own socket, binary log on, row format). The MariaDB on 3306 is never touched.
2. Creates every service's database and migrates and seeds it with the services' own commands
   (`python -m vanity_<svc> migrate|seed` with <SVC>_DATABASE_URL pointing at the scratch server).
3. Takes a backup with tools.backup (per-database dumps with their binlog positions).
4. Keeps the shop busy through the services' own code, in-process: each service's real app
   (its lifespan: gRPC server, outbox relays) on the scratch databases, plaintext gRPC between
   them, the mock payment provider. Shoppers sign up (identity), fill a cart (cart, which asks
   catalog and inventory), and check out through checkout's saga use case, which reserves,
   authorizes, commits, captures and confirms over gRPC; every 7th card is declined and the saga
   compensates. An admin restocks now and then. Then the apps stop, a marker time is recorded
   with a snapshot: row counts and CHECKSUM TABLE of every table, and tools.audit's business
   checks, which must pass before the loss.
5. Loses the data: an operator's `DROP DATABASE` of every service database.
6. Recovers as an operator would: finds the first DROP in the binary log, restores the dumps and
   replays each database's binary log from its dump's position to just before that event
   (mariadb-binlog --database --start-position --stop-position).
7. Verifies: row counts and checksums per table equal the snapshot; the inventory ledger audit
   is clean; tools.audit: every confirmed order has exactly one captured payment of its total
   (payments' records), no authorized or captured payment without a live order, ledger sums
   equal balances, units sold equal units committed, no stale reservation or locked cart; every
   order acknowledged to a shopper is back with the status and total it was acknowledged with.
   Prints RTO and RPO.

Everything (server process, temporary folder) is removed at the end, on failure too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pymysql

if TYPE_CHECKING:
    from vanity_inventory.service import InventoryService

from tools.backup import Server, restore_backup, take_backup

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("identity", "catalog", "inventory", "cart", "checkout", "payments")
SERVER_ID = 4242
BINLOG_BASENAME = "drill-bin"


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when the drill dies, even by SIGKILL,
    so no scratch server outlives the drill."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# ----------------------------------------------------------------------- scratch server


class ScratchMariaDB:
    """A throwaway mariadbd: its own datadir, binlog folder, socket and port under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.datadir = root / "datadir"
        # The binary log lives apart from the datadir, as in production (archived elsewhere):
        # losing the data must not lose the log that recovers it.
        self.binlog_dir = root / "binlog"
        self.socket = str(root / "mysqld.sock")
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.user = getpass.getuser()

    @property
    def server(self) -> Server:
        return Server(host="127.0.0.1", port=self.port, user="root")

    def url(self, database: str) -> str:
        return f"mysql+asyncmy://root@127.0.0.1:{self.port}/{database}"

    def install(self) -> None:
        self.datadir.mkdir(parents=True)
        self.binlog_dir.mkdir()
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={self.user}",
                "--auth-root-authentication-method=normal",  # root, empty password: scratch only
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.process = subprocess.Popen(
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.root / 'mysqld.pid'}",
                f"--log-error={self.root / 'error.log'}",
                f"--log-bin={self.binlog_dir / BINLOG_BASENAME}",
                f"--server-id={SERVER_ID}",
                "--binlog-format=ROW",
                "--innodb-buffer-pool-size=64M",
                "--max-connections=200",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                f"--user={self.user}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.error_log_tail()}")
            try:
                self.server.connect().close()
                return
            except pymysql.Error:
                time.sleep(0.2)
        raise RuntimeError(f"mariadbd not ready after 60 s: {self.error_log_tail()}")

    def error_log_tail(self) -> str:
        log = self.root / "error.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no error log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: mariadbd shuts down cleanly
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def binlog_files(self) -> list[str]:
        index = self.binlog_dir / f"{BINLOG_BASENAME}.index"
        return [Path(line.strip()).name for line in index.read_text().splitlines() if line.strip()]

    def sql(self, statement: str, database: str | None = None) -> list[tuple]:
        conn = self.server.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return list(cur.fetchall())
        finally:
            conn.close()


# ----------------------------------------------------------------------- the shop


def service_env(scratch: ScratchMariaDB, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        ENV="development",
        REDIS_URL="",
        CELERY_BROKER_URL="",
    )
    for svc in SERVICES:
        env[f"{svc.upper()}_DATABASE_URL"] = scratch.url(f"vanity_{svc}")
    return env


def load_shop(scratch: ScratchMariaDB, data_dir: Path) -> None:
    env = service_env(scratch, data_dir)
    for svc in SERVICES:
        scratch.sql(
            f"CREATE DATABASE `vanity_{svc}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        for command in ("migrate", "seed"):
            proc = subprocess.run(
                [sys.executable, "-m", f"vanity_{svc}", command],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"vanity_{svc} {command} failed:\n{proc.stderr[-3000:]}")


@dataclass
class Traffic:
    """Writes through one service's use cases; `step(i)` is one business action."""

    name: str
    step: Callable[[int], Awaitable[None]]
    every: int = 1  # runs on every n-th round
    acknowledged: int = 0


@dataclass
class Orders:
    """What checkout acknowledged to its customers: order id -> status, total. The recovered
    databases must hold every one of them, as acknowledged."""

    placed: dict[str, tuple[str, int]] = field(default_factory=dict)
    last_confirmed: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for s, _ in self.placed.values() if s == status)


@dataclass
class Shop:
    """The six services, each its real app (lifespan: gRPC server on a free port, outbox
    relays, the ended-sessions feed) on the scratch databases, calling each other over gRPC."""

    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    traffic: list[Traffic] = field(default_factory=list)
    inventory: InventoryService | None = None
    orders: Orders = field(default_factory=Orders)
    concurrency: int = 4  # shoppers at once

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            await close()


# A shopper's address; the drill's orders ship to it (no address book look-up needed).
DRILL_ADDRESS = {
    "full_name": "Drill Shopper",
    "line1": "1 Recovery Street",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}
VISA = "pm_card_visa"  # the mock provider's (and Stripe's) test card that succeeds
DECLINED = "pm_card_visa_chargeDeclined"  # ...and one that is declined


async def open_shop(scratch: ScratchMariaDB, data_dir: Path, concurrency: int = 4) -> Shop:
    """Starts every service's app in this process (what its web process runs: `create_app`
    and its lifespan), with plaintext gRPC between them on free ports, the mock payment
    provider, and payments' mock webhooks POSTed to its own app (in-process HTTP). Orders go
    through checkout's saga use case with its real gRPC ports to the five other services."""
    shop = Shop(concurrency=concurrency)
    try:
        await _open_services(shop, scratch, data_dir)
    except BaseException:
        await shop.aclose()
        raise
    return shop


def _settings(service: str, **values):
    module = __import__(f"vanity_{service}.settings", fromlist=["x"])
    cls = next(
        getattr(module, name)
        for name in dir(module)
        if name.endswith("Settings")
        and name not in ("ServiceSettings", "MailSettings")
        and getattr(getattr(module, name), "service_name", None) == service
    )
    return cls(**values)


class _AsgiWebhookSender:
    """Delivers the mock provider's signed events to payments' own webhook route, in-process
    (as Stripe POSTs them to a deployment)."""

    def __init__(self) -> None:
        self.client = None

    async def __call__(self, webhook) -> None:
        response = await self.client.post(
            "/api/v1/payments/webhooks/stripe", content=webhook.payload, headers=webhook.headers
        )
        response.raise_for_status()


async def _open_services(shop: Shop, scratch: ScratchMariaDB, data_dir: Path) -> None:
    import httpx
    from asgi_lifespan import LifespanManager
    from vanity_cart.service import Shopper
    from vanity_checkout.domain import OrderStatus, ShippingAddress
    from vanity_checkout.saga import PlaceOrder

    grpc_ports = {svc: free_port() for svc in SERVICES}
    common = {
        "env": "development",
        "data_dir": data_dir,
        "log_level": "WARNING",
        "access_log": False,
        "grpc_host": "127.0.0.1",
        "redis_url": None,
        "celery_broker_url": None,  # Celery tasks (e-mails) land in DATA_DIR's folder broker
        "jwks_url": None,  # identity's keys from DATA_DIR/keys, written by identity's start
        "otel_exporter_otlp_endpoint": None,
        "grpc_tls_ca_file": None,  # plaintext gRPC: development, one process
        "grpc_tls_cert_file": None,
        "grpc_tls_key_file": None,
        "grpc_health_port": None,
        **{f"{peer}_grpc_target": f"127.0.0.1:{port}" for peer, port in grpc_ports.items()},
    }
    own = {
        # The drill measures recovery, not password hashing: the cheapest valid profile.
        "identity": {
            "argon2_time_cost": 1,
            "argon2_memory_cost_kib": 8192,
            "argon2_parallelism": 1,
            "register_ip_limits": "100000/hour",
        },
        "inventory": {"low_stock_notifications": False},
        "payments": {"payment_provider": "mock"},
    }
    webhooks = _AsgiWebhookSender()
    apps = {}
    for svc in SERVICES:  # identity first: the others read its keys and its ended sessions
        settings = _settings(
            svc,
            database_url=scratch.url(f"vanity_{svc}"),
            grpc_port=grpc_ports[svc],
            **common,
            **own.get(svc, {}),
        )
        overrides = {"webhook_sender": webhooks} if svc == "payments" else {}
        app = __import__(f"vanity_{svc}.app", fromlist=["x"]).create_app(settings, **overrides)
        manager = LifespanManager(app, startup_timeout=60, shutdown_timeout=60)
        await manager.__aenter__()
        shop.closers.append(lambda m=manager: m.__aexit__(None, None, None))
        apps[svc] = app
    payments_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=apps["payments"]), base_url="http://payments"
    )
    webhooks.client = payments_http
    shop.closers.append(payments_http.aclose)

    identity = apps["identity"].state.container.identity
    cart = apps["cart"].state.container.cart
    saga = apps["checkout"].state.container.saga
    stock = apps["inventory"].state.container.inventory
    shop.inventory = stock
    skus = await _orderable_skus(stock, apps["catalog"].state.container.browse)
    address = ShippingAddress(**DRILL_ADDRESS)

    async def order_step(i: int) -> None:
        # A customer signs up, fills a cart, pays: every 7th card is declined (the saga
        # compensates: stock released, payment failed, cart unlocked).
        user = await identity.register(
            f"drill-{i:05d}@example.com", f"Drill Shopper {i}", f"drill-pass-{i:05d}-long"
        )
        shopper = Shopper(user_id=user.id)
        for sku in dict.fromkeys((skus[i % len(skus)], skus[(i * 7 + 1) % len(skus)])):
            await cart.add_item(shopper, sku, 1 + i % 2)
        method = DECLINED if i % 7 == 3 else VISA
        order = await saga.place_order(
            PlaceOrder(user.id, f"dr-drill-{i:05d}", method, shipping_address=address)
        )
        if order.status not in (OrderStatus.CONFIRMED, OrderStatus.FAILED):
            raise RuntimeError(f"order {order.id} stopped {order.status.value}, not at an end")
        shop.orders.placed[order.id] = (order.status.value, order.total_minor)
        if order.status is OrderStatus.CONFIRMED:
            shop.orders.last_confirmed = order.id

    async def restock_step(i: int) -> None:
        await stock.adjust_stock(skus[i % len(skus)], 5, "drill: restock", actor="dr-drill")

    shop.traffic = [
        Traffic("orders (sign-up, cart, checkout saga)", order_step),
        Traffic("restocks", restock_step, every=10),  # an admin now and then
    ]


async def _orderable_skus(stock, browse) -> list[str]:
    """SKUs on sale in the catalog, in one currency, with stock for the whole drill."""
    in_stock = [view.sku for view in await stock.list_stock(limit=200) if view.available > 40]
    variants, _missing = await browse.get_variants(in_stock)
    on_sale = [v for v in variants if v.active]
    currency = on_sale[0].currency if on_sale else ""
    skus = sorted(v.sku for v in on_sale if v.currency == currency)
    if len(skus) < 4:
        raise RuntimeError("the seeded shop has too few SKUs on sale and in stock for the drill")
    return skus


async def keep_shopping(shop: Shop, steps: int) -> None:
    """`steps` rounds, `shop.concurrency` at a time; each round runs every Traffic due then."""
    gate = asyncio.Semaphore(shop.concurrency)

    async def round_(i: int) -> None:
        async with gate:
            for traffic in shop.traffic:
                if i % traffic.every == 0:
                    await traffic.step(i)
                    traffic.acknowledged += 1

    async with asyncio.TaskGroup() as group:  # one failure cancels the other shoppers
        for i in range(steps):
            group.create_task(round_(i))


# ----------------------------------------------------------------------- snapshots


def snapshot(scratch: ScratchMariaDB, checksums: bool = True) -> dict[str, tuple[int, int]]:
    """(row count, CHECKSUM TABLE) of every table of every service database. Names come from
    information_schema, never from input."""
    out: dict[str, tuple[int, int]] = {}
    for svc in SERVICES:
        database = f"vanity_{svc}"
        tables = [
            row[0]
            for row in scratch.sql(
                "SELECT table_name FROM information_schema.tables "  # noqa: S608
                f"WHERE table_schema = '{database}' AND table_type = 'BASE TABLE'"
            )
        ]
        for table in sorted(tables):
            count = scratch.sql(f"SELECT COUNT(*) FROM `{database}`.`{table}`")[0][0]  # noqa: S608
            checksum = (
                scratch.sql(f"CHECKSUM TABLE `{database}`.`{table}`")[0][1] if checksums else 0
            )
            out[f"{database}.{table}"] = (int(count), int(checksum or 0))
    return out


def last_ledger_entry(scratch: ScratchMariaDB) -> int:
    """The newest stock ledger row: the last write the shop acknowledged."""
    return int(
        scratch.sql("SELECT COALESCE(MAX(id), 0) FROM vanity_inventory.inventory_logs")[0][0]
    )


# ----------------------------------------------------------------------- recovery

_AT = re.compile(r"^# at (\d+)$")


def position_before_first(scratch: ScratchMariaDB, start_file: str, pattern: str):
    """(binlog file, position) of the event group holding the first statement matching
    `pattern` at or after `start_file`: the replay stops there, just before the loss."""
    files = scratch.binlog_files()
    for name in files[files.index(start_file) :]:
        dump = subprocess.run(
            ["mariadb-binlog", "--no-defaults", str(scratch.binlog_dir / name)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        group_start: int | None = None
        last_at: int | None = None
        for line in dump.splitlines():
            at = _AT.match(line)
            if at:
                last_at = int(at.group(1))
                continue
            # A GTID event opens every event group (transaction or DDL statement).
            if line.startswith("#") and " GTID " in line and last_at is not None:
                group_start = last_at
            if re.search(pattern, line, re.IGNORECASE):
                return name, group_start if group_start is not None else last_at
    raise RuntimeError(f"no {pattern!r} in the binary log")


def replay(scratch: ScratchMariaDB, database: str, start: tuple[str, int], stop: tuple[str, int]):
    files = scratch.binlog_files()
    chosen = files[files.index(start[0]) : files.index(stop[0]) + 1]
    decode = subprocess.Popen(
        [
            "mariadb-binlog",
            "--no-defaults",
            f"--database={database}",
            f"--start-position={start[1]}",  # applies to the first file
            f"--stop-position={stop[1]}",  # applies to the last file
            "--disable-log-bin",  # the replay itself is not logged again
            *[str(scratch.binlog_dir / f) for f in chosen],
        ],
        stdout=subprocess.PIPE,
    )
    apply = subprocess.run(
        ["mariadb", *scratch.server.client_args(), "--binary-mode"],
        stdin=decode.stdout,
        capture_output=True,
    )
    decode.stdout.close()
    if decode.wait() != 0 or apply.returncode != 0:
        raise RuntimeError(f"replay of {database} failed: {apply.stderr.decode()[-2000:]}")


async def ledger_audit(scratch: ScratchMariaDB, data_dir: Path):
    from vanity_inventory.bootstrap import build_container
    from vanity_inventory.settings import InventorySettings

    container = build_container(
        InventorySettings(
            database_url=scratch.url("vanity_inventory"),
            data_dir=data_dir,
            grpc_enabled=False,
            low_stock_notifications=False,
        )
    )
    try:
        return await container.inventory.audit()
    finally:
        await container.aclose()


# ----------------------------------------------------------------------- the drill


def business_audit(scratch: ScratchMariaDB):
    """tools.audit over the service databases: every confirmed order has exactly one captured
    payment of its total, no money held without an order, ledger sums equal balances, units
    sold equal units committed, no stale reservation, no cart left locked."""
    from tools.audit import mariadb_urls, run_audit

    return run_audit(mariadb_urls(f"mysql+asyncmy://root@127.0.0.1:{scratch.port}", "vanity_"))


def acknowledged_orders_changed(scratch: ScratchMariaDB, orders: Orders) -> list[str]:
    """Orders checkout answered before the loss that are missing or different after it."""
    found = {
        row[0]: (row[1], int(row[2]))
        for row in scratch.sql("SELECT id, status, total_minor FROM vanity_checkout.orders")
    }
    return [
        f"order {order_id}: acknowledged {ack[0]} {ack[1]}, recovered {found.get(order_id)}"
        for order_id, ack in orders.placed.items()
        if found.get(order_id) != ack
    ]


def run_drill(steps: int, keep: bool = False, concurrency: int = 4) -> int:
    root = Path(tempfile.mkdtemp(prefix="vanity-dr-drill-"))
    scratch = ScratchMariaDB(root)
    data_dir = root / "data"
    data_dir.mkdir()
    failures: list[str] = []
    try:
        say(f"scratch MariaDB in {root}, port {scratch.port}")
        scratch.install()
        scratch.start()
        version = scratch.sql("SELECT VERSION()")[0][0]
        say(f"mariadbd {version} up (binlog {BINLOG_BASENAME}, server-id {SERVER_ID})")

        load_shop(scratch, data_dir)
        say("shop loaded: every service database created, migrated and seeded")

        folder, manifest = take_backup(scratch.server, root / "backups")
        for d in manifest.dumps:
            say(f"backup {d.database}: {d.bytes} bytes at {d.binlog_file}:{d.binlog_position}")

        async def write() -> Shop:
            shop = await open_shop(scratch, data_dir, concurrency)
            say(f"shop open: six services in-process, gRPC between them, {concurrency} shoppers")
            try:
                started = time.perf_counter()
                await keep_shopping(shop, steps)
                say(f"traffic took {time.perf_counter() - started:.1f} s")
                audit = await shop.inventory.audit()
                if audit.drift:
                    failures.append(f"ledger drift before the loss: {audit.drift}")
            finally:
                await shop.aclose()  # nothing writes any more: the snapshot below stays true
            return shop

        shop = asyncio.run(write())
        for t in shop.traffic:
            say(f"after the backup: {t.acknowledged} acknowledged {t.name}")
        orders = shop.orders
        say(
            f"orders acknowledged: {len(orders.placed)} ({orders.count('confirmed')} confirmed, "
            f"{orders.count('failed')} failed: declined cards, compensated)"
        )
        pre_audit = business_audit(scratch)
        say(f"business audit before the loss: {'ok' if pre_audit.ok else 'FAILED'}")
        if not pre_audit.ok:  # the shop must be right before the loss, or nothing is proven
            failures.append(f"business audit before the loss: {len(pre_audit.findings)} finding(s)")
            print(pre_audit.render())
        before = snapshot(scratch)
        last_before = last_ledger_entry(scratch)
        marker = datetime.now(UTC)
        say(f"marker {marker.isoformat()}: {len(before)} tables snapshotted")

        for svc in SERVICES:  # the disaster: an operator drops every service database
            scratch.sql(f"DROP DATABASE `vanity_{svc}`")
        say("LOSS: every vanity_* database dropped")

        recovery_started = time.perf_counter()
        first = min(manifest.dumps, key=lambda d: (d.binlog_file, d.binlog_position))
        stop = position_before_first(scratch, first.binlog_file, r"^DROP DATABASE")
        say(f"first DROP found in the binary log: replay stops at {stop[0]}:{stop[1]}")
        restore_backup(scratch.server, folder)
        restore_seconds = time.perf_counter() - recovery_started
        # Off the RTO clock: what the dumps alone bring back, to show what the replay adds.
        from_dumps = snapshot(scratch, checksums=False)
        replay_started = time.perf_counter()
        # One replay per database, all at once: services never share a transaction, so each
        # database's log is independent of the others' (an operator runs them side by side).
        with ThreadPoolExecutor(max_workers=len(manifest.dumps)) as pool:
            for done in [
                pool.submit(replay, scratch, d.database, (d.binlog_file, d.binlog_position), stop)
                for d in manifest.dumps
            ]:
                done.result()
        replay_seconds = time.perf_counter() - replay_started
        rto = restore_seconds + replay_seconds
        say(
            f"restored the dumps in {restore_seconds:.2f} s, "
            f"replayed the binary log in {replay_seconds:.2f} s"
        )

        after = snapshot(scratch)
        mismatched = 0
        lost_rows = 0
        header = f"{'table':46} {'pre-loss':>8} {'dumps':>6} {'+binlog':>7}  checksum"
        print(f"\n{header}")
        for table in sorted(set(before) | set(after)):
            b = before.get(table, (0, 0))
            a = after.get(table, (0, 0))
            ok = a == b
            mismatched += not ok
            lost_rows += max(b[0] - a[0], 0)
            dumped = from_dumps.get(table, (0, 0))[0]
            verdict = "same" if ok else "DIFFERENT"
            print(f"{table:46} {b[0]:>8} {dumped:>6} {a[0]:>7}  {verdict}")
        print()
        if mismatched:
            failures.append(f"{mismatched} table(s) differ from the pre-loss snapshot")
        audit = asyncio.run(ledger_audit(scratch, data_dir))
        say(f"inventory ledger audit: {audit.skus_checked} SKUs, {len(audit.drift)} drifting")
        if audit.drift:
            failures.append(f"ledger drift after recovery: {audit.drift}")
        post_audit = business_audit(scratch)
        print(post_audit.render())
        if not post_audit.ok:
            failures.append(f"business audit after recovery: {len(post_audit.findings)} finding(s)")
        changed = acknowledged_orders_changed(scratch, orders)
        for line in changed[:10]:
            print(f"  {line}")
        last = orders.last_confirmed
        say(
            f"acknowledged orders recovered as acknowledged: {len(orders.placed) - len(changed)}"
            f"/{len(orders.placed)} (last confirmed {last}: "
            f"{'present' if last and not any(last in c for c in changed) else 'MISSING'})"
        )
        if changed or last is None:
            failures.append(f"{len(changed)} acknowledged order(s) lost or changed")
        last_after = last_ledger_entry(scratch)
        missing_ledger = last_before - last_after
        say(f"RTO: {rto:.2f} s (restore {len(manifest.dumps)} dumps + binlog replay)")
        intact = lost_rows == 0 and missing_ledger == 0 and not changed
        say(
            f"RPO: {lost_rows} rows lost, {len(changed)} acknowledged orders lost, last "
            f"acknowledged write before the loss (ledger #{last_before}) "
            f"{'present' if missing_ledger == 0 else 'MISSING'}"
            f" -> {'0 transactions lost' if intact else 'DATA LOST'}"
        )
        if lost_rows or missing_ledger:
            failures.append("data written before the loss is missing")
    except Exception as exc:
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        scratch.stop()
        if keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
            say("scratch server stopped, temporary folder removed")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print("DR drill passed" if not failures else "DR drill FAILED")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.dr_drill", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--steps", type=int, default=300, help="orders placed after the backup (one per round)"
    )
    parser.add_argument("--shoppers", type=int, default=4, help="shoppers at once")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (debug)")
    ns = parser.parse_args(argv)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, through the clean-up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run_drill(ns.steps, ns.keep, ns.shoppers)


if __name__ == "__main__":
    sys.exit(main())
