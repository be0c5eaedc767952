"""Checkout benchmark: completed sagas per second and the latency of `POST /api/v1/checkout`
(request to `confirmed`: lock, price, reserve, authorize, commit, capture, confirm, clear).

    .venv/bin/python services/checkout/bench/bench_checkout.py --mode inprocess
    .venv/bin/python services/checkout/bench/bench_checkout.py --mode services
    .venv/bin/python services/checkout/bench/bench_checkout.py --mode gateway

- `inprocess`: checkout's app (its REST API through ASGI, no socket) with the real inventory
  and payments services (mock provider) in the same process, called over real gRPC; every
  service on its own throwaway MariaDB database. Cart, catalog and identity are in-process
  fakes (read-only lookups and a cart lock): the figure is the saga's cost on MariaDB.
- `services`: the same, but inventory and payments each run in a process of their own (as
  deployed), so the three services share the machine's cores instead of one event loop.
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
from contextlib import AsyncExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "services" / "checkout" / "tests"))

from saga_fakes import ADDRESS_JSON  # noqa: E402  (services/checkout/tests)

SKUS = [f"BENCH-{n}" for n in range(8)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _cpu_seconds(process) -> float:
    import psutil

    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


class CpuMeter:
    """CPU time spent by the shop's processes (this one, or the suite's tree) and by MariaDB
    while a level runs: the cost of a saga, which a busy machine stretches in wall time but does
    not change much in CPU time."""

    def __init__(self, root_pid: int) -> None:
        import psutil

        self.root_pid = root_pid
        self.shop = "in-process shop"  # this process: the services it hosts and the load
        self.db = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "mariadbd"]

    def _name(self, process) -> str:
        """The shop's name for a process: vanity_<service> / vanity_gateway / celery / ..."""
        try:
            words = process.cmdline()
        except Exception:
            return "?"
        for word in words:
            if word.endswith("bench_checkout.py"):
                if "--serve" in words:  # a `services` mode child
                    return words[words.index("--serve") + 1]
                return self.shop
            if word.startswith("vanity_") or word in ("celery", "honcho"):
                return word.removeprefix("vanity_")
        return Path(words[-1]).stem if words else "?"

    def read(self) -> dict[str, float]:
        seconds: dict[str, float] = {"MariaDB": sum(map(_cpu_seconds, self.db))}
        from tools.suite import process_tree

        for process in process_tree(self.root_pid):
            name = self._name(process)
            seconds[name] = seconds.get(name, 0.0) + _cpu_seconds(process)
        return seconds


CPU: CpuMeter | None = None


def report(
    mode: str,
    concurrency: int,
    latencies: list[float],
    statuses: list[str],
    wall: float,
    cpu: dict[str, float] | None = None,
):
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
    if cpu and confirmed:
        # CPU per confirmed saga; the machine's cores divided by the total bound the rate.
        per_saga = {name: s * 1000 / confirmed for name, s in cpu.items() if s > 0}
        total = sum(per_saga.values())
        parts = ", ".join(
            f"{n} {ms:.1f}" for n, ms in sorted(per_saga.items(), key=lambda x: -x[1])
        )
        # A process uses one core at most (one event loop), the machine all of its cores.
        bound = min(os.cpu_count() * 1000 / total, 1000 / max(per_saga.values()))
        print(
            f"          CPU per saga {total:.1f} ms ({parts}): "
            f"at most {bound:.0f} sagas/s on {os.cpu_count()} cores",
            flush=True,
        )


async def drive(post, orders: int, concurrency: int):
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
    cpu_before = CPU.read() if CPU else {}
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu_after = CPU.read() if CPU else {}
    cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    return latencies, statuses, time.perf_counter() - started, cpu


# ------------------------------------------------------------------------------ in-process


async def inprocess(orders: int, levels: list[int], *, split: bool = False) -> None:
    """`split`: inventory and payments in processes of their own (`services` mode)."""
    global CPU
    CPU = CpuMeter(os.getpid())
    if split:
        CPU.shop = "checkout + load"
    from real_services import start_real_services
    from saga_fakes import FakeCart, FakeCatalog, FakeIdentity
    from vanity_common.migrations import migrate
    from vanity_testkit import TokenMinter, scratch_databases

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_databases(["inventory", "payments", "checkout"], prefix="vb") as urls,
    ):
        minter = TokenMinter(Path(tmp) / "keys")
        children: list[asyncio.subprocess.Process] = []
        targets = None
        if split:
            targets = {}
            for service in ("inventory", "payments"):
                await migrate(f"vanity_{service}", urls[service])
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--serve",
                    service,
                    urls[service],
                    tmp,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                children.append(child)
                targets[service] = f"127.0.0.1:{int(await child.stdout.readline())}"
        cart = FakeCart()
        fakes = {
            "catalog": FakeCatalog(dict.fromkeys(SKUS, 1299)),
            "identity": FakeIdentity(),
            "cart": cart,
        }
        async with AsyncExitStack() as stack:
            services = await start_real_services(
                stack,
                urls,
                keys_dir=minter.keys_dir,
                data_dir=Path(tmp),
                fakes=fakes,
                pool_size=30,
                targets=targets,
                response_deadline_seconds=30,
            )
            if services.inventory is not None:
                await _stock_up(services.inventory)
            client = services.client
            for level in levels:
                run = uuid.uuid4().hex[:6]
                headers = {}
                # warm-up shoppers of their own: a reused key would be an idempotent replay,
                # answered at once and counted as a saga
                warmup = min(20, orders)
                for n in range(orders + warmup):
                    user = f"bench-{run}-{n}"
                    cart.put(user, {SKUS[n % len(SKUS)]: 1})
                    headers[n] = minter.headers(minter.token(user_id=user))

                async def post(n: int, headers=headers, run=run) -> str:
                    response = await client.post(
                        "/api/v1/checkout",
                        json={"payment_method": "pm_card_visa", "shipping_address": ADDRESS_JSON},
                        headers={**headers[n], "Idempotency-Key": f"{run}-{n}"},
                    )
                    return response.json().get("status", str(response.status_code))

                # warm-up (pools, caches) with shoppers orders..orders+warmup
                await drive(lambda n, post=post: post(orders + n), warmup, level)
                report(
                    "services" if split else "inprocess", level, *await drive(post, orders, level)
                )
        for child in children:
            child.stdin.close()  # the child's cue to stop
            await asyncio.wait_for(child.wait(), 30)


async def _stock_up(inventory) -> None:
    for sku in SKUS:
        await inventory.state.container.inventory.set_stock(sku, 1_000_000, "bench", actor="bench")


async def serve(service: str, url: str, data_dir: str) -> None:
    """A `services` mode child: inventory or payments on `url` (migrated) until stdin closes;
    prints its gRPC port first."""
    from asgi_lifespan import LifespanManager
    from real_services import common_settings, service_app

    data = Path(data_dir)
    app = service_app(service, url, common_settings(data / "keys", data, 30))
    async with LifespanManager(app):
        if service == "inventory":
            await _stock_up(app)
        print(app.state.grpc_port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# ------------------------------------------------------------------------------- gateway


def gateway(orders: int, levels: list[int]) -> None:
    """The suite starts (and migrates, seeds) outside any event loop: it runs its own."""
    from vanity_testkit import scratch_databases

    from tools.suite import Layout, Suite

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_databases(
            ["identity", "catalog", "inventory", "cart", "checkout", "payments"], prefix="vb"
        ) as urls,
    ):
        for service, url in urls.items():
            os.environ[f"{service.upper()}_DATABASE_URL"] = url
        layout = Layout(Path(tmp), offset=2000)
        suite = Suite(layout).start()
        try:
            suite.wait_ready(timeout=180)
            global CPU
            CPU = CpuMeter(suite.process.pid)
            asyncio.run(_through_gateway(layout, orders, levels))
        finally:
            suite.stop()


async def _through_gateway(layout, orders: int, levels: list[int]) -> None:
    import httpx
    from vanity_testkit.tokens import mint_token

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
                json={"payment_method": "pm_card_visa", "shipping_address": ADDRESS_JSON},
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
    parser.add_argument("--mode", choices=["inprocess", "services", "gateway"], default="inprocess")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8])
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)  # a `services` child
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.serve:
        asyncio.run(serve(*args.serve))
    elif args.mode in ("inprocess", "services"):
        asyncio.run(inprocess(args.orders, args.concurrency, split=args.mode == "services"))
    else:
        gateway(args.orders, args.concurrency)


if __name__ == "__main__":
    main()
