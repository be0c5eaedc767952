"""Added latency and throughput of the stand-in vs calling the upstream directly, in one run.

Starts the echo upstream (a separate process) and the stand-in (`python -m vanity_gateway`, a
separate process, rendered kong.yml with a fresh dev key), then runs the same bounded aiohttp load
against both: a public route (catalog, per-IP rate-limit raised out of the way) and a signed-in
route (cart: jwt + acl + rate-limiting). Loopback only.

    uv run python gateway/bench/bench.py [--requests 3000] [--concurrency 1,16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml
from vanity_gateway.render import dump, public_keys, render
from vanity_testkit.gateway import KONG_YML, SERVICES, plugin_of, route_of
from vanity_testkit.tokens import generate_key, mint_token

ECHO = Path(__file__).resolve().parents[1] / "tests" / "echo_upstream.py"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} did not open")


async def load(url: str, headers: dict, n: int, conc: int) -> dict:
    lat: list[float] = []
    errors = 0
    conn = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=conn) as s:
        for _ in range(min(50, n)):  # warm-up (connections, caches)
            async with s.get(url, headers=headers) as r:
                await r.read()
        todo = iter(range(n))

        async def worker():
            nonlocal errors
            for _ in todo:
                t0 = time.perf_counter()
                async with s.get(url, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                lat.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100)
    return {"rps": n / wall, "p50": q[49], "p95": q[94], "p99": q[98], "errors": errors}


def row(name: str, r: dict) -> str:
    return (f"{name:<34} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p95']:>8.2f} {r['p99']:>8.2f}"
            f" {r['errors']:>6}")  # fmt: skip


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", default="1,16")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))
    generate_key(tmp / "keys")
    doc = render(yaml.safe_load(KONG_YML.read_text()), public_keys(tmp / "keys"))
    for name in ("catalog-public", "cart"):
        plugin_of(route_of(doc, name), "rate-limiting")["config"].update(
            minute=10_000_000, hour=100_000_000
        )
    up_port, gw_port = free_port(), free_port()
    (tmp / "kong.yml").write_text(dump(doc))
    (tmp / "up.yml").write_text(
        yaml.safe_dump({"upstreams": dict.fromkeys(SERVICES, f"http://127.0.0.1:{up_port}")})
    )
    procs = [
        subprocess.Popen(  # noqa: S603, ASYNC220 - started once, before any load
            [sys.executable, str(ECHO), str(up_port)], stdout=subprocess.DEVNULL
        ),
        subprocess.Popen(  # noqa: S603, ASYNC220
            [sys.executable, "-m", "vanity_gateway", "--config", str(tmp / "kong.yml"),
             "--upstreams", str(tmp / "up.yml"), "--port", str(gw_port), "--status-port", "0",
             "--log-level", "warning"],
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        ),
    ]  # fmt: skip
    try:
        wait_port(up_port)
        wait_port(gw_port)
        token = mint_token(tmp / "keys", ttl=900)
        auth = {"Authorization": f"Bearer {token}"}
        direct = f"http://127.0.0.1:{up_port}"
        gw = f"http://127.0.0.1:{gw_port}"
        print(f"{args.requests} requests per row, loopback, {os.cpu_count()} CPUs; latencies in ms")
        for conc in [int(c) for c in args.concurrency.split(",")]:
            print(f"\nconcurrency {conc}")
            print(f"{'target':<34} {'req/s':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'errors':>6}")
            d = await load(f"{direct}/api/v1/products", {}, args.requests, conc)
            g = await load(f"{gw}/api/v1/products", {}, args.requests, conc)
            j = await load(f"{gw}/api/v1/cart", auth, args.requests, conc)
            print(row("direct upstream", d))
            print(row("gateway /api/v1/products (public)", g))
            print(row("gateway /api/v1/cart (jwt+acl)", j))
            for name, r in (("public", g), ("jwt", j)):
                print(f"  added by gateway ({name}): p50 +{r['p50'] - d['p50']:.2f} ms, "
                      f"p95 +{r['p95'] - d['p95']:.2f} ms, p99 +{r['p99'] - d['p99']:.2f} ms")  # fmt: skip
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(main())
