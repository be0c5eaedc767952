"""Hot-SKU contention benchmark on MariaDB/MySQL.

Creates a throwaway database, migrates it, runs the scenarios, prints a report (and optionally
JSON), then drops the database.

Scenarios
- race:  N buyers start at once for fewer units (default 500 buyers, 100 units, 1 unit each).
- drain: a fixed number of units sold as fast as possible by C concurrent buyers, each looping
         reserve() until the SKU is out of stock (default 1,000 units, C in 16,32,64).
- drain+commit: the same, every successful reservation also committed (checkout's two calls).

Modes
- service (default): the use cases in this process, each call one transaction on a pooled
  connection (what the gRPC servicer runs, minus the transport).
- grpc: a real inventory server (`python -m vanity_inventory serve`) in another process, called
  over gRPC; measures the transport too.

    uv run python services/inventory/bench/bench_hot_sku.py [--mode grpc] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass

import pymysql
from sqlalchemy.engine import make_url
from vanity_common.db import Database
from vanity_common.errors import ServiceError
from vanity_common.migrations import migrate
from vanity_inventory.service import InventoryService


@dataclass
class Result:
    scenario: str
    mode: str
    concurrency: int
    units: int
    calls: int
    successes: int
    wall_s: float
    success_per_s: float
    calls_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    success_p95_ms: float
    on_hand: int
    reserved: int
    ledger_ok: bool


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


# ------------------------------------------------------------------------------ clients


class ServiceClient:
    def __init__(self, service: InventoryService) -> None:
        self.service = service

    async def reserve(self, order_id: str, sku: str) -> str:
        try:
            await self.service.reserve(order_id, [(sku, 1)], 600)
            return "ok"
        except ServiceError as exc:
            return exc.reason

    async def commit(self, order_id: str) -> None:
        await self.service.commit(order_id)

    async def close(self) -> None:
        pass


class GrpcClient:
    def __init__(self, target: str) -> None:
        import grpc
        from vanity.inventory.v1 import inventory_pb2, inventory_pb2_grpc

        self.grpc, self.pb = grpc, inventory_pb2
        self.channel = grpc.aio.insecure_channel(target)
        self.stub = inventory_pb2_grpc.InventoryServiceStub(self.channel)

    async def reserve(self, order_id: str, sku: str) -> str:
        from vanity_common.errors import grpc_reason

        request = self.pb.ReserveRequest(
            order_id=order_id,
            lines=[self.pb.ReservationLine(sku=sku, quantity=1)],
            ttl_seconds=600,
        )
        try:
            await self.stub.Reserve(request, timeout=30)
            return "ok"
        except self.grpc.aio.AioRpcError as exc:
            return grpc_reason(exc) or exc.code().name

    async def commit(self, order_id: str) -> None:
        await self.stub.Commit(self.pb.CommitRequest(order_id=order_id), timeout=30)

    async def close(self) -> None:
        await self.channel.close()


# ---------------------------------------------------------------------------- scenarios


async def timed(coro):
    started = time.perf_counter()
    outcome = await coro
    return outcome, time.perf_counter() - started


async def race(client, sku: str, buyers: int):
    results = await asyncio.gather(
        *(timed(client.reserve(f"race-{sku}-{i}", sku)) for i in range(buyers))
    )
    return [(o == "ok", t) for o, t in results]


async def drain(client, sku: str, concurrency: int, commit: bool):
    samples: list[tuple[bool, float]] = []
    sold_out = asyncio.Event()

    async def buyer(n: int) -> None:
        i = 0
        while not sold_out.is_set():
            order_id = f"drain-{sku}-{n}-{i}"
            i += 1
            started = time.perf_counter()
            outcome = await client.reserve(order_id, sku)
            if outcome == "ok" and commit:
                await client.commit(order_id)
            samples.append((outcome == "ok", time.perf_counter() - started))
            if outcome == "INSUFFICIENT_STOCK":
                sold_out.set()
            elif outcome != "ok":
                raise RuntimeError(f"unexpected outcome {outcome}")

    await asyncio.gather(*(buyer(n) for n in range(concurrency)))
    return samples


async def run_scenario(name, mode, client, service, sku, units, concurrency, work) -> Result:
    await service.set_stock(sku, units, "benchmark stock", actor="bench")
    started = time.perf_counter()
    samples = await work
    wall = time.perf_counter() - started
    latencies = [t for _, t in samples]
    ok = [t for s, t in samples if s]
    stock = await service.get_stock(sku)
    report = await service.audit()
    async with service.db.connect() as conn:
        from sqlalchemy import text

        on_hand, reserved = (
            await conn.execute(
                text("SELECT on_hand, reserved FROM stock_items WHERE sku = :s"), {"s": sku}
            )
        ).one()
    assert stock.available == 0, "the SKU must be sold out at the end"
    return Result(
        scenario=name,
        mode=mode,
        concurrency=concurrency,
        units=units,
        calls=len(samples),
        successes=len(ok),
        wall_s=round(wall, 3),
        success_per_s=round(len(ok) / wall, 1),
        calls_per_s=round(len(samples) / wall, 1),
        p50_ms=round(pct(latencies, 0.50), 2),
        p95_ms=round(pct(latencies, 0.95), 2),
        p99_ms=round(pct(latencies, 0.99), 2),
        success_p95_ms=round(pct(ok, 0.95), 2),
        on_hand=int(on_hand),
        reserved=int(reserved),
        ledger_ok=not report.drift,
    )


# ------------------------------------------------------------------------------ harness


def _admin_conn(server: str):
    url = make_url(server)
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        autocommit=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vanity_inventory", "serve"], env=env)


async def _wait_for_port(port: int, within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server did not open port {port}")


async def main_async(args) -> list[Result]:
    server = args.server.rstrip("/")
    name = f"vanity_bench_{uuid.uuid4().hex[:10]}"
    admin = _admin_conn(server)
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    url = f"{server}/{name}"
    process = None
    try:
        await migrate("vanity_inventory", url)
        service = InventoryService(Database(url, pool_size=args.pool), 5)
        if args.mode == "grpc":
            port, http_port = _free_port(), _free_port()
            env = {
                **os.environ,
                "INVENTORY_DATABASE_URL": url,
                "INVENTORY_GRPC_PORT": str(port),
                "INVENTORY_HTTP_PORT": str(http_port),
                "INVENTORY_DB_POOL_SIZE": str(args.pool),
                "INVENTORY_LOW_STOCK_NOTIFICATIONS": "false",
                "INVENTORY_LOG_LEVEL": "WARNING",
                "INVENTORY_ACCESS_LOG": "false",
            }
            process = _start_server(env)
            await _wait_for_port(port)
            client = GrpcClient(f"127.0.0.1:{port}")
        else:
            client = ServiceClient(service)
        results = []
        results.append(
            await run_scenario(
                "race",
                args.mode,
                client,
                service,
                "HOT-RACE",
                args.race_units,
                args.race_buyers,
                race(client, "HOT-RACE", args.race_buyers),
            )
        )
        for concurrency in args.concurrency:
            for commit in (False, True) if args.with_commit else (False,):
                sku = f"HOT-DRAIN-{concurrency}-{int(commit)}"
                results.append(
                    await run_scenario(
                        "drain+commit" if commit else "drain",
                        args.mode,
                        client,
                        service,
                        sku,
                        args.drain_units,
                        concurrency,
                        drain(client, sku, concurrency, commit),
                    )
                )
        await client.close()
        await service.db.dispose()
        return results
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--server",
        default=os.environ.get("VANITY_BENCH_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306"),
    )
    parser.add_argument("--mode", choices=["service", "grpc"], default="service")
    parser.add_argument("--pool", type=int, default=32, help="DB pool size (overflow as much)")
    parser.add_argument("--race-buyers", type=int, default=500)
    parser.add_argument("--race-units", type=int, default=100)
    parser.add_argument("--drain-units", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--with-commit", action="store_true", help="also run drain+commit")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    header = (
        f"{'scenario':<13}{'mode':<8}{'conc':>5}{'units':>6}{'calls':>6}{'sold':>6}"
        f"{'wall s':>8}{'sold/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'on_hand':>8}{'reserved':>9}  ledger"
    )
    print(header)
    for r in results:
        print(
            f"{r.scenario:<13}{r.mode:<8}{r.concurrency:>5}{r.units:>6}{r.calls:>6}"
            f"{r.successes:>6}{r.wall_s:>8.2f}{r.success_per_s:>8.0f}{r.p50_ms:>8.1f}"
            f"{r.p95_ms:>8.1f}{r.p99_ms:>8.1f}{r.on_hand:>8}{r.reserved:>9}  "
            f"{'ok' if r.ledger_ok else 'DRIFT'}"
        )
    print(f"(latency per call, pool wait included; {os.cpu_count()} CPUs shared by all processes)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([asdict(r) for r in results], handle, indent=2)
    ok = all(r.ledger_ok and r.successes == r.units for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
