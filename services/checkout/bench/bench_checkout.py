"""Checkout benchmark: completed sagas per second and the latency of `POST /api/v1/checkout`
(request to `confirmed`: lock, price, reserve, authorize, commit, capture, confirm, clear).

    .venv/bin/python services/checkout/bench/bench_checkout.py --mode inprocess
    .venv/bin/python services/checkout/bench/bench_checkout.py --mode gateway

- `inprocess`: checkout's app (its REST API through ASGI, no socket) with the real inventory
  and payments services (mock provider) in the same process, called over real gRPC; every
  service on its own throwaway MariaDB database. Cart, catalog and identity are in-process
  fakes (read-only lookups and a cart lock): the figure is the saga's cost on MariaDB.
- `gateway`: the whole suite as processes (tools.suite: the six services, the gateway, the
  worker), every service on a throwaway MariaDB database, shoppers registered through the
  gateway, each checking out over HTTP through the gateway. The gateway's checkout route allows
  10 checkouts a minute per client address, so every shopper comes from its own 127.0.x.y.

Prints one line per concurrency level: orders, confirmed, sagas/s, p50/p95/p99 in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "services" / "checkout" / "tests"))

ADDRESS = {
    "full_name": "Bench Shopper",
    "line1": "1 Main St",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}
SKUS = [f"BENCH-{n}" for n in range(8)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(mode: str, concurrency: int, latencies: list[float], statuses: list[str], wall: float):
    confirmed = statuses.count("confirmed")
    others = {s: statuses.count(s) for s in set(statuses) if s != "confirmed"}
    ms = [x * 1000 for x in latencies]
    print(
        f"{mode:9} concurrency={concurrency:<3} orders={len(statuses):<4} confirmed={confirmed:<4} "
        f"sagas/s={confirmed / wall:7.1f}  p50={statistics.median(ms):6.1f} ms  "
        f"p95={percentile(ms, 0.95):6.1f} ms  p99={percentile(ms, 0.99):6.1f} ms"
        + (f"  other answers: {others}" if others else ""),
        flush=True,
    )


async def drive(post, orders: int, concurrency: int) -> tuple[list[float], list[str], float]:
    """`post(n)` places order n and answers its status; `concurrency` run at once."""
    queue = iter(range(orders))
    latencies: list[float] = []
    statuses: list[str] = []

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            status = await post(n)
            latencies.append(time.perf_counter() - started)
            statuses.append(status)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - started


@contextmanager
def mariadb_databases(names: list[str]):
    from vanity_common.testing import _mariadb_server, _pymysql_connect

    created = {n: f"vb_{n[:4]}_{uuid.uuid4().hex[:10]}" for n in names}
    conn = _pymysql_connect()
    try:
        with conn.cursor() as cur:
            for db in created.values():
                cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
        yield {n: f"{_mariadb_server()}/{db}" for n, db in created.items()}
    finally:
        with conn.cursor() as cur:
            for db in created.values():
                cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        conn.close()


# ------------------------------------------------------------------------------ in-process


async def inprocess(orders: int, levels: list[int]) -> None:
    import httpx
    from asgi_lifespan import LifespanManager
    from saga_fakes import FakeCart, FakeCatalog, FakeIdentity
    from vanity_checkout.app import create_app as checkout_app
    from vanity_checkout.ports import CheckoutPorts
    from vanity_checkout.settings import CheckoutSettings
    from vanity_common.grpc_client import ChannelPool
    from vanity_common.migrations import migrate
    from vanity_common.testing import TokenMinter
    from vanity_inventory.app import create_app as inventory_app
    from vanity_inventory.settings import InventorySettings
    from vanity_payments.app import create_app as payments_app
    from vanity_payments.settings import PaymentsSettings

    class _Discard:
        async def deliver(self, message) -> None:
            return None

    async def _none(*_a, **_k):
        return None

    with (
        tempfile.TemporaryDirectory() as tmp,
        mariadb_databases(["inventory", "payments", "checkout"]) as urls,
    ):
        tmp_path = Path(tmp)
        minter = TokenMinter(tmp_path / "keys")
        for service, url in urls.items():
            await migrate(f"vanity_{service}", url)
        common = {
            "keys_dir": minter.keys_dir,
            "grpc_port": 0,
            "data_dir": tmp_path,
            "ended_sessions_refresh_seconds": 0,
            "access_log": False,
            "log_level": "WARNING",
            "db_pool_size": 30,
        }
        async with AsyncExitStack() as stack:
            inventory = inventory_app(InventorySettings(database_url=urls["inventory"], **common))
            payments = payments_app(
                PaymentsSettings(database_url=urls["payments"], env="test", **common),
                checkout=SimpleNamespace(order=_none, report_payment_outcome=_none),
                run_relay=False,
            )
            for app in (inventory, payments):
                await stack.enter_async_context(LifespanManager(app))
            for sku in SKUS:
                await inventory.state.container.inventory.set_stock(
                    sku, 1_000_000, "bench", actor="bench"
                )
            settings = CheckoutSettings(
                database_url=urls["checkout"],
                inventory_grpc_target=f"127.0.0.1:{inventory.state.grpc_port}",
                payments_grpc_target=f"127.0.0.1:{payments.state.grpc_port}",
                response_deadline_seconds=30,
                **common,
            )
            channels = ChannelPool.from_settings(settings)
            stack.push_async_callback(channels.close)
            real = CheckoutPorts.over_grpc(channels, settings)
            cart = FakeCart()
            ports = SimpleNamespace(
                inventory=real.inventory,
                payments=real.payments,
                catalog=FakeCatalog(dict.fromkeys(SKUS, 1299)),
                identity=FakeIdentity(),
                cart=cart,
            )
            app = checkout_app(settings, ports=ports, task_sender=_Discard())
            await stack.enter_async_context(LifespanManager(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://checkout", timeout=60
                )
            )
            for level in levels:
                run = uuid.uuid4().hex[:6]
                headers = {}
                for n in range(orders):
                    user = f"bench-{run}-{n}"
                    cart.put(user, {SKUS[n % len(SKUS)]: 1})
                    headers[n] = minter.headers(minter.token(user_id=user))

                async def post(n: int, headers=headers, run=run) -> str:
                    response = await client.post(
                        "/api/v1/checkout",
                        json={"payment_method": "pm_card_visa", "shipping_address": ADDRESS},
                        headers={**headers[n], "Idempotency-Key": f"{run}-{n}"},
                    )
                    return response.json().get("status", str(response.status_code))

                await drive(post, min(20, orders), level)  # warm-up: pools, JIT-less caches
                report("inprocess", level, *await drive(post, orders, level))


# ------------------------------------------------------------------------------- gateway


def gateway(orders: int, levels: list[int]) -> None:
    """The suite starts (and migrates, seeds) outside any event loop: it runs its own."""
    from tools.suite import Layout, Suite

    with (
        tempfile.TemporaryDirectory() as tmp,
        mariadb_databases(
            ["identity", "catalog", "inventory", "cart", "checkout", "payments"]
        ) as urls,
    ):
        for service, url in urls.items():
            os.environ[f"{service.upper()}_DATABASE_URL"] = url
        layout = Layout(Path(tmp), offset=2000)
        suite = Suite(layout).start()
        try:
            suite.wait_ready(timeout=180)
            asyncio.run(_through_gateway(layout, orders, levels))
        finally:
            suite.stop()


async def _through_gateway(layout, orders: int, levels: list[int]) -> None:
    import httpx
    from vanity_gateway.testing import mint_token

    token = mint_token(layout.data_dir / "keys", sub="bench", admin=True)
    admin = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=layout.gateway, timeout=30) as gw:
        products = (await gw.get("/api/v1/products", params={"limit": 10})).json()["items"]
        skus = []
        for product in products:
            detail = (await gw.get(f"/api/v1/products/{product['slug']}")).json()
            skus += [v["sku"] for v in detail["variants"]]
        for sku in skus:
            await gw.put(
                f"/api/v1/admin/stock/{sku}",
                json={"on_hand": 1_000_000, "reason": "bench"},
                headers=admin,
            )
    shoppers = await _register(layout.gateway, orders * len(levels), skus)
    for i, level in enumerate(levels):
        batch = shoppers[i * orders : (i + 1) * orders]

        async def post(n: int, batch=batch) -> str:
            client, auth = batch[n]
            response = await client.post(
                "/api/v1/checkout",
                json={"payment_method": "pm_card_visa", "shipping_address": ADDRESS},
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
            )
            return response.json().get("status", str(response.status_code))

        report("gateway", level, *await drive(post, orders, level))
    for client, _ in shoppers:
        await client.aclose()


async def _register(base_url: str, count: int, skus: list[str]):
    """One shopper per client address (127.0.<a>.<b>), each with one item in the cart."""
    import httpx

    shoppers = []
    semaphore = asyncio.Semaphore(8)

    async def one(n: int):
        address = f"127.0.{10 + n // 250}.{1 + n % 250}"
        client = httpx.AsyncClient(
            base_url=base_url,
            timeout=60,
            transport=httpx.AsyncHTTPTransport(local_address=address),
        )
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        password = "correct horse battery staple 42"
        async with semaphore:
            registered = await client.post(
                "/api/v1/auth/register",
                json={"email": email, "name": "Bench", "password": password},
            )
            assert registered.status_code == 201, registered.text
            login = await client.post(
                "/api/v1/auth/login", json={"email": email, "password": password}
            )
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            added = await client.post(
                "/api/v1/cart/items", json={"sku": skus[n % len(skus)], "quantity": 1}, headers=auth
            )
            assert added.status_code in (200, 201), added.text
        return client, auth

    shoppers = await asyncio.gather(*(one(n) for n in range(count)))
    return list(shoppers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["inprocess", "gateway"], default="inprocess")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8])
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.mode == "inprocess":
        asyncio.run(inprocess(args.orders, args.concurrency))
    else:
        gateway(args.orders, args.concurrency)


if __name__ == "__main__":
    main()
