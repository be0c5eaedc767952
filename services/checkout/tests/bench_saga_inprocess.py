"""In-process benchmark of the checkout saga's own cost: the orchestrator and its database
(every step's claim, read and fenced commit), against the in-process fakes (no network).

    .venv/bin/python services/checkout/tests/bench_saga_inprocess.py \\
        --url mysql+asyncmy://root@127.0.0.1:3306 --orders 400 --concurrency 20

With a server URL (no database name) it creates and drops a throwaway database. It prints
completed sagas per second and the p50/p95/p99 latency of `place_order` (request to confirmed).
The end-to-end figure (real services over gRPC, through the gateway) is `make checkout-bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from saga_fakes import VISA, FakeShop
from vanity_checkout.domain import OrderStatus, ShippingAddress
from vanity_checkout.saga import CheckoutSaga, PlaceOrder
from vanity_common.db import Database
from vanity_common.migrations import migrate

ADDRESS = ShippingAddress("Ada Lovelace", "1 Main St", "Paris", "75001", "FR")


def _utcnow():
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def main(url: str, orders: int, concurrency: int) -> None:
    import pymysql
    from sqlalchemy.engine import make_url

    dropped = None
    if not url.startswith("sqlite") and not make_url(url).database:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        server = make_url(url)
        conn = pymysql.connect(
            host=server.host,
            port=server.port or 3306,
            user=server.username or "root",
            password=server.password or "",
            autocommit=True,
        )
        conn.cursor().execute(f"CREATE DATABASE `{name}`")
        url, dropped = f"{url.rstrip('/')}/{name}", (conn, name)
    await migrate("vanity_checkout", url)
    shop = FakeShop.create(
        _utcnow, {"LIP-1": 10**9, "EYE-2": 10**9}, {"LIP-1": 1299, "EYE-2": 2450}
    )
    db = Database(url, pool_size=concurrency)
    saga = CheckoutSaga(db, shop, worker_id="bench")
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        user = f"bench-{i}"
        shop.cart.put(user, {"LIP-1": 2, "EYE-2": 1})
        async with gate:
            started = time.perf_counter()
            order = await saga.place_order(
                PlaceOrder(user, f"k-{i}", VISA, shipping_address=ADDRESS)
            )
            latencies.append(time.perf_counter() - started)
        assert order.status is OrderStatus.CONFIRMED, order

    try:
        await asyncio.gather(*(one(i) for i in range(min(20, orders))))  # warm-up
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(20, 20 + orders)))
        elapsed = time.perf_counter() - started
        q = statistics.quantiles(latencies, n=100)
        print(
            f"{url.split('://')[0]}: {orders} sagas, concurrency {concurrency}: "
            f"{orders / elapsed:.1f} sagas/s, p50 {q[49] * 1000:.1f} ms, "
            f"p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"
        )
    finally:
        await db.dispose()
        if dropped:
            conn, name = dropped
            conn.cursor().execute(f"DROP DATABASE `{name}`")
            conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="mysql+asyncmy://root@127.0.0.1:3306")
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.orders, args.concurrency))
