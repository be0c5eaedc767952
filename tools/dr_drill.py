"""Disaster-recovery drill: backup, loss, point-in-time recovery, verification (`make dr-drill`).

1. Starts a scratch MariaDB of its own (mariadb-install-db + mariadbd: temporary datadir, free
   port, own socket, binary log on, row format). The MariaDB on 3306 is never touched.
2. Creates every service's database and migrates and seeds it with the services' own commands
   (`python -m vanity_<svc> migrate|seed` with <SVC>_DATABASE_URL pointing at the scratch server).
3. Takes a backup with tools.backup (per-database dumps with their binlog positions).
4. Keeps the shop busy through the services' own use cases, in-process (TRAFFIC below: stock
   reservations, commits, releases, restocks, sign-ups; checkout orders join when checkout has a
   use case to place them), then records a marker time and a snapshot: row counts and
   CHECKSUM TABLE of every table.
5. Loses the data: an operator's `DROP DATABASE` of every service database.
6. Recovers as an operator would: finds the first DROP in the binary log, restores the dumps and
   replays each database's binary log from its dump's position to just before that event
   (mariadb-binlog --database --start-position --stop-position).
7. Verifies: row counts and checksums per table equal the snapshot, the inventory ledger audit
   is clean, every write acknowledged before the loss is back. Prints RTO and RPO.

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
        return f"mysql+aiomysql://root@127.0.0.1:{self.port}/{database}"

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
class Shop:
    """The services the drill writes through, built by their own bootstrap."""

    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    traffic: list[Traffic] = field(default_factory=list)
    inventory: InventoryService | None = None

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            await close()


async def open_shop(scratch: ScratchMariaDB, data_dir: Path) -> Shop:
    """Each service through its own bootstrap (what its web app and workers build); the
    traffic calls their use cases. Checkout joins with an "orders" Traffic (place an order
    through its use case) once it has one, and the verification then adds "every confirmed
    order has its payment"."""
    shop = Shop()
    try:
        await _open_services(shop, scratch, data_dir)
    except BaseException:
        await shop.aclose()
        raise
    return shop


async def _open_services(shop: Shop, scratch: ScratchMariaDB, data_dir: Path) -> None:
    from vanity_identity.bootstrap import build_container as build_identity
    from vanity_identity.settings import IdentitySettings
    from vanity_inventory.bootstrap import build_container as build_inventory
    from vanity_inventory.settings import InventorySettings

    inventory = build_inventory(
        InventorySettings(
            database_url=scratch.url("vanity_inventory"),
            data_dir=data_dir,
            grpc_enabled=False,
            low_stock_notifications=False,
        )
    )
    shop.closers.append(inventory.aclose)
    shop.inventory = inventory.inventory
    identity = build_identity(
        IdentitySettings(
            database_url=scratch.url("vanity_identity"),
            data_dir=data_dir,
            grpc_enabled=False,
            # The drill measures recovery, not password hashing: the cheapest valid profile.
            argon2_time_cost=1,
            argon2_memory_cost_kib=8192,
            argon2_parallelism=1,
            register_ip_limits="100000/hour",
        )
    )
    shop.closers.append(identity.aclose)
    stock = inventory.inventory
    skus = [view.sku for view in await stock.list_stock(limit=200) if view.available > 5]
    if len(skus) < 4:
        raise RuntimeError("the seeded shop has too few SKUs in stock for the drill")

    async def stock_step(i: int) -> None:
        # A checkout-shaped stock flow: reserve, then commit (2 of 3) or release; now and then
        # a restock. Replaced by placing real orders once checkout's use case exists.
        order_id = f"drill-{i:05d}"
        lines = [(skus[i % len(skus)], 1), (skus[(i * 7 + 1) % len(skus)], 1)]
        await stock.reserve(order_id, lines, ttl_seconds=900, actor="dr-drill")
        if i % 3 == 2:
            await stock.release(order_id, "drill: customer gave up", actor="dr-drill")
        else:
            await stock.commit(order_id, actor="dr-drill")
        if i % 10 == 0:
            await stock.adjust_stock(lines[0][0], 5, "drill: restock", actor="dr-drill")

    async def signup_step(i: int) -> None:
        await identity.identity.register(
            f"drill-{i:05d}@example.com", f"Drill Shopper {i}", f"drill-pass-{i:05d}-long"
        )

    shop.traffic = [
        Traffic("inventory reservations", stock_step),
        Traffic("sign-ups", signup_step, every=5),  # rarer than stock moves
    ]


async def keep_shopping(shop: Shop, steps: int) -> None:
    for i in range(steps):
        for traffic in shop.traffic:
            if i % traffic.every == 0:
                await traffic.step(i)
                traffic.acknowledged += 1


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


def run_drill(steps: int, keep: bool = False) -> int:
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

        async def write() -> tuple[Shop, list[Traffic]]:
            shop = await open_shop(scratch, data_dir)
            try:
                await keep_shopping(shop, steps)
                audit = await shop.inventory.audit()
                if audit.drift:
                    failures.append(f"ledger drift before the loss: {audit.drift}")
            finally:
                await shop.aclose()
            return shop.traffic

        traffic = asyncio.run(write())
        for t in traffic:
            say(f"after the backup: {t.acknowledged} acknowledged {t.name}")
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
        for d in manifest.dumps:
            replay(scratch, d.database, (d.binlog_file, d.binlog_position), stop)
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
        last_after = last_ledger_entry(scratch)
        missing_ledger = last_before - last_after
        say(f"RTO: {rto:.2f} s (restore {len(manifest.dumps)} dumps + binlog replay)")
        say(
            f"RPO: {lost_rows} rows lost, last acknowledged write before the loss "
            f"(ledger #{last_before}) {'present' if missing_ledger == 0 else 'MISSING'}"
            f" -> {'0 transactions lost' if lost_rows == 0 and missing_ledger == 0 else 'DATA LOST'}"
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
    parser.add_argument("--steps", type=int, default=300, help="business actions after the backup")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (debug)")
    ns = parser.parse_args(argv)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, through the clean-up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run_drill(ns.steps, ns.keep)


if __name__ == "__main__":
    sys.exit(main())
