"""Benchmark of the transactional outbox on MariaDB (`python -m tools.bench_outbox`).

1. Commit path: the latency of a small write transaction (one INSERT) against the same
   transaction plus one outbox row (`uow.publish`), at several client concurrencies.
2. Relay throughput: messages/s delivered to a no-op handler from a full outbox, by one and by
   several concurrent relays (each with its own connection pool, as separate processes would).
3. Delivery lag on the happy path: from the start of the writing transaction to the handler,
   with a running relay nudged by the commit (no polling).

A throwaway database is created and dropped. MariaDB from VANITY_BENCH_MARIADB_URL (default
mysql+asyncmy://root@127.0.0.1:3306).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid

from sqlalchemy import Column, String, Table, insert, text
from sqlalchemy.ext.asyncio import create_async_engine
from vanity_common.db import Database, new_metadata
from vanity_common.outbox import OutboxRelay

metadata = new_metadata()
orders = Table("bench_orders", metadata, Column("id", String(32), primary_key=True))
TOPIC = "bench.order_placed"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(latencies_s: list[float]) -> str:
    ms = [v * 1000 for v in latencies_s]
    return (
        f"p50 {pct(ms, 0.50):6.2f} ms  p95 {pct(ms, 0.95):6.2f} ms  "
        f"p99 {pct(ms, 0.99):6.2f} ms  mean {statistics.fmean(ms):6.2f} ms"
    )


async def commit_latencies(db: Database, n: int, concurrency: int) -> dict[bool, list]:
    """`n` transactions per variant, interleaved (with and without the outbox row take turns),
    so both see the same background load on a shared machine."""
    latencies: dict[bool, list[float]] = {False: [], True: []}
    queue = iter(range(2 * n))

    def work(with_outbox: bool):
        async def run(uow) -> None:
            await uow.conn.execute(insert(orders).values(id=uuid.uuid4().hex))
            if with_outbox:
                await uow.publish(TOPIC, {"order": "x" * 24, "amount_minor": 1234})

        return run

    async def client() -> None:
        for i in queue:
            with_outbox = bool(i % 2)
            started = time.perf_counter()
            await db.write(work(with_outbox))
            latencies[with_outbox].append(time.perf_counter() - started)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


async def fill(db: Database, count: int) -> None:
    async def work(uow) -> None:
        for n in range(500):
            await uow.publish(TOPIC, {"n": n})

    for _ in range(count // 500):
        await db.write(work)


async def relay_throughput(url: str, relays: int, count: int, batch: int) -> tuple[float, int]:
    setup = Database(url, pool_size=2)
    await fill(setup, count)
    await setup.dispose()
    delivered = 0

    async def handler(message) -> None:
        nonlocal delivered
        delivered += 1

    databases = [Database(url, pool_size=4) for _ in range(relays)]
    workers = [
        OutboxRelay(db, {TOPIC: handler}, batch_size=batch, concurrency=batch, name=f"bench-{i}")
        for i, db in enumerate(databases)
    ]
    started = time.perf_counter()
    await asyncio.gather(*(w.drain() for w in workers))
    elapsed = time.perf_counter() - started
    for db in databases:
        await db.dispose()
    return delivered / elapsed, delivered


async def delivery_lag(url: str, n: int) -> list[float]:
    db = Database(url, pool_size=8)
    committed: dict[str, float] = {}
    lags: list[float] = []
    done = asyncio.Event()

    async def handler(message) -> None:
        if message.payload.get("k") not in committed:  # not one of this phase's messages
            return
        lags.append(time.perf_counter() - committed[message.payload["k"]])
        if len(lags) == n:
            done.set()

    relay = OutboxRelay(db, {TOPIC: handler}, sweep_interval_s=3600)
    relay.start()
    try:
        for i in range(n):
            key = str(i)

            async def work(uow, key=key) -> None:
                await uow.publish(TOPIC, {"k": key})

            committed[key] = time.perf_counter()  # the handler may run before write() returns
            await db.write(work)
            await asyncio.sleep(0.002)  # ~ a steady trickle, not a burst
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        await relay.stop()
        await db.dispose()
    return lags


async def main(args) -> None:
    server = os.environ.get("VANITY_BENCH_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306")
    name = f"vbench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}`"))
        version = (await conn.execute(text("SELECT VERSION()"))).scalar_one()
    url = f"{server}/{name}"
    print(f"MariaDB {version}; Python {platform.python_version()}; {os.cpu_count()} CPUs")
    try:
        db = Database(url, pool_size=max(args.concurrency) + 2)
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        print(f"\n1. commit path, {args.transactions} transactions per variant, interleaved")
        for concurrency in args.concurrency:
            await commit_latencies(db, 100, concurrency)  # warm-up
            runs = await commit_latencies(db, args.transactions, concurrency)
            plain, outbox = runs[False], runs[True]
            print(f"  concurrency {concurrency:2d}  without outbox: {summary(plain)}")
            print(f"  concurrency {concurrency:2d}  + 1 outbox row:  {summary(outbox)}")
            added = pct(outbox, 0.5) - pct(plain, 0.5)
            print(f"                 added at p50: {added * 1000:+.2f} ms")
        async with db.engine.begin() as conn:
            await conn.execute(text("DELETE FROM outbox"))
        await db.dispose()

        print(f"\n2. relay throughput, {args.messages} messages, no-op handler")
        for relays in args.relays:
            rate, delivered = await relay_throughput(url, relays, args.messages, args.batch)
            print(f"  {relays} relay(s), batch {args.batch}: {rate:8.0f} messages/s ({delivered})")

        print(f"\n3. write start -> handler, running nudged relay ({args.lag} messages)")
        print(f"  {summary(await delivery_lag(url, args.lag))}")
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--relays", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--lag", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
