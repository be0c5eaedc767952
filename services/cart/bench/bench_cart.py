"""Cart read benchmark: `GET /api/v1/cart` with 5 lines at N concurrent clients.

Default (self-contained): starts, in their own processes,
- a stand-in for catalog and inventory (one real gRPC server answering GetVariants and
  GetAvailability from memory, so the figures are the cart's and not another service's), and
- the real cart service (`python -m vanity_cart serve`, uvicorn + grpc.aio) on free ports, on
  SQLite in a temporary folder or on `--database-url` (MariaDB: a throwaway database is created
  and dropped),
mints a customer token with a temporary key pair, fills the cart with 5 lines through the API,
then runs the load (aiohttp keep-alive clients) and prints req/s and p50/p95/p99.

Against something already running (the gateway, or a real cart):
    bench_cart.py --url http://127.0.0.1:8000 --token "$ACCESS_TOKEN"
(the cart behind it must already hold 5 lines, or pass --fill SKU... to add them first).

    uv run python services/cart/bench/bench_cart.py [--clients 32] [--duration 15] [--json out]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

SKUS = [f"BENCH-{i}" for i in range(1, 6)]
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Result:
    target: str
    clients: int
    duration_s: float
    requests: int
    errors: int
    degraded: int  # 200 answers without live data (a dependency call missed its deadline)
    req_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    lines_per_cart: int
    # CPU the cart process used per request while measured (self-started runs only): the
    # figure that does not depend on what else the machine is doing.
    cart_cpu_ms_per_request: float | None = None


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000 if ordered else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ dependency stand-in


def serve_dependencies(port: int) -> None:
    """Catalog + inventory stand-in: fixed answers for the benchmark SKUs."""
    import grpc
    from vanity.catalog.v1 import catalog_pb2, catalog_pb2_grpc
    from vanity.common.v1 import common_pb2
    from vanity.inventory.v1 import inventory_pb2, inventory_pb2_grpc

    class Catalog(catalog_pb2_grpc.CatalogServiceServicer):
        async def GetVariants(self, request, context):
            return catalog_pb2.GetVariantsResponse(
                variants=[
                    catalog_pb2.Variant(
                        sku=s,
                        product_id="1",
                        product_slug=f"product-{s.lower()}",
                        product_name=f"Product {s}",
                        brand_name="Vanity",
                        variant_name="50 ml",
                        price=common_pb2.Money(amount_minor=1299, currency="EUR"),
                        active=True,
                        image_url=f"https://img.example/{s}.jpg",
                    )
                    for s in request.skus
                ]
            )

    class Inventory(inventory_pb2_grpc.InventoryServiceServicer):
        async def GetAvailability(self, request, context):
            return inventory_pb2.GetAvailabilityResponse(
                items=[
                    inventory_pb2.SkuAvailability(
                        sku=s, known=True, available=100, level=inventory_pb2.STOCK_LEVEL_IN_STOCK
                    )
                    for s in request.skus
                ]
            )

    async def main() -> None:
        server = grpc.aio.server()
        catalog_pb2_grpc.add_CatalogServiceServicer_to_server(Catalog(), server)
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(Inventory(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        await server.wait_for_termination()

    import uvloop

    uvloop.run(main())


# ------------------------------------------------------------------ the cart service


@contextlib.contextmanager
def mariadb_database(server_url: str):
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"bench_cart_{uuid.uuid4().hex[:8]}"
    conn = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    try:
        yield str(url.set(database=name))
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@contextlib.contextmanager
def running_cart(database_url: str | None, workdir: Path):
    from vanity_testkit import TokenMinter

    minter = TokenMinter(workdir / "keys")
    deps_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "ENV": "development",
        "DATA_DIR": str(workdir),
        "KEYS_DIR": str(minter.keys_dir),
        "CART_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{workdir / 'cart.db'}",
        "CART_HTTP_PORT": str(http_port),
        "CART_GRPC_PORT": str(free_port()),
        "CATALOG_GRPC_TARGET": f"127.0.0.1:{deps_port}",
        "INVENTORY_GRPC_TARGET": f"127.0.0.1:{deps_port}",
        "ACCESS_LOG": "false",
        "LOG_LEVEL": "WARNING",
        "ENDED_SESSIONS_REFRESH_SECONDS": "0",  # no identity here
    }
    # Fixed argument lists of this interpreter and this file: nothing from outside.
    python = sys.executable
    migrate = [python, "-m", "vanity_cart", "migrate"]
    subprocess.run(migrate, env=env, check=True, cwd=ROOT)  # noqa: S603
    deps = subprocess.Popen([python, __file__, "--serve-deps", str(deps_port)], env=env, cwd=ROOT)  # noqa: S603
    cart = subprocess.Popen([python, "-m", "vanity_cart", "serve"], env=env, cwd=ROOT)  # noqa: S603
    try:
        token = minter.token(f"bench-{uuid.uuid4().hex[:6]}", ttl=900)
        yield f"http://127.0.0.1:{http_port}", token, cart.pid
    finally:
        for proc in (cart, deps):
            proc.terminate()
        for proc in (cart, deps):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


# ------------------------------------------------------------------ load


async def wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(300):
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise SystemExit("cart did not become ready")


async def fill(session, base: str, headers: dict, skus: list[str]) -> int:
    for sku in skus:
        async with session.post(
            f"{base}/api/v1/cart/items", json={"sku": sku, "quantity": 2}, headers=headers
        ) as r:
            if r.status != 200:
                raise SystemExit(f"could not add {sku}: {r.status} {await r.text()}")
    async with session.get(f"{base}/api/v1/cart", headers=headers) as r:
        body = await r.json()
    if body["degraded"] or not all(line["live"] for line in body["lines"]):
        raise SystemExit(f"the cart is not fully live: {body['degraded']}")
    return len(body["lines"])


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def client_address(n: int) -> str:
    """Each client's own loopback address: the gateway limits cart calls per client address."""
    return f"127.0.{20 + n // 250}.{1 + n % 250}"


async def load(
    base,
    token,
    clients,
    duration,
    warmup,
    skus,
    *,
    wait_for_start=False,
    cart_pid=None,
    own_addresses=False,
) -> Result:
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        if wait_for_start:
            await wait_ready(session, base)
        lines = await fill(session, base, headers, skus) if skus else 0
        latencies: list[float] = []
        errors = degraded = 0
        measuring = False
        stop_at = time.perf_counter() + warmup + duration
        url = f"{base}/api/v1/cart"

        async def client(n: int) -> None:
            nonlocal errors, degraded
            own = None
            if own_addresses:
                own = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=1, local_addr=(client_address(n), 0))
                )
            try:
                await requests(own or session)
            finally:
                if own is not None:
                    await own.close()

        async def requests(http: aiohttp.ClientSession) -> None:
            nonlocal errors, degraded
            while (now := time.perf_counter()) < stop_at:
                live = True
                try:
                    async with http.get(url, headers=headers) as r:
                        body = await r.read()
                        ok = r.status == 200
                        live = b'"degraded":[]' in body
                except aiohttp.ClientError:
                    ok = False
                if measuring:
                    if ok:
                        latencies.append(time.perf_counter() - now)
                        degraded += not live
                    else:
                        errors += 1

        tasks = [asyncio.create_task(client(n)) for n in range(clients)]
        await asyncio.sleep(warmup)
        measuring = True
        started, cpu_before = time.perf_counter(), cpu_seconds(cart_pid)
        await asyncio.gather(*tasks)
        wall, cpu_used = time.perf_counter() - started, cpu_seconds(cart_pid) - cpu_before
    return Result(
        target=base,
        clients=clients,
        duration_s=round(wall, 2),
        requests=len(latencies),
        errors=errors,
        degraded=degraded,
        req_per_s=round(len(latencies) / wall, 1),
        p50_ms=round(pct(latencies, 0.50), 2),
        p95_ms=round(pct(latencies, 0.95), 2),
        p99_ms=round(pct(latencies, 0.99), 2),
        max_ms=round(max(latencies, default=0) * 1000, 2),
        lines_per_cart=lines,
        cart_cpu_ms_per_request=round(cpu_used / len(latencies) * 1000, 3)
        if cart_pid and latencies
        else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--url", help="an already running cart or gateway (needs --token)")
    parser.add_argument("--token", help="a customer access token for --url")
    parser.add_argument("--fill", nargs="*", help="with --url: SKUs to add first")
    parser.add_argument("--database-url", help="cart database, e.g. mysql+asyncmy://root@host")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--serve-deps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_deps:
        serve_dependencies(args.serve_deps)
        return

    import uvloop

    if args.url:
        if not args.token:
            raise SystemExit("--url needs --token")
        result = uvloop.run(
            load(
                args.url,
                args.token,
                args.clients,
                args.duration,
                args.warmup,
                args.fill,
                own_addresses=True,
            )
        )
    else:
        with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
            url = args.database_url
            if url and url.startswith("mysql"):
                url = stack.enter_context(mariadb_database(url))
            base, token, pid = stack.enter_context(running_cart(url, Path(folder)))
            result = uvloop.run(
                load(
                    base,
                    token,
                    args.clients,
                    args.duration,
                    args.warmup,
                    SKUS,
                    wait_for_start=True,
                    cart_pid=pid,
                )
            )
    print(json.dumps(asdict(result), indent=2))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
