"""Catalog read benchmark: requests/s and p50/p95/p99 for the list and detail endpoints, with
the read cache cold (disabled) and warm, straight to the service (no gateway).

By default it builds a throw-away SQLite database with the demo catalog, starts
`python -m vanity_catalog serve` on a loopback port (once with the cache off, once on), and
drives it with an asyncio aiohttp client. `--url` measures an already running catalog instead
(warm only, unless `--cold-url` points at one started with CATALOG_CACHE_ENABLED=false).

    uv run python services/catalog/bench/bench_catalog.py                 # defaults
    uv run python services/catalog/bench/bench_catalog.py --requests 5000 --concurrency 32
    uv run python services/catalog/bench/bench_catalog.py --database-url mysql+asyncmy://root@127.0.0.1/catalog_bench
    uv run python services/catalog/bench/bench_catalog.py --redis redis://127.0.0.1:6379/14
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

LIST_QUERIES = [
    {},
    {"sort": "price_asc"},
    {"sort": "price_desc", "limit": 48},
    {"sort": "name"},
    {"category": "makeup"},
    {"category": "lips"},
    {"category": "skincare", "sort": "price_asc"},
    {"category": "serum"},
    {"brand": "atelier-rouge"},
    {"brand": "nordic-bloom", "sort": "name"},
    {"min_price": 2000, "max_price": 4000},
    {"tag": "vegan"},
    {"q": "serum"},
    {"q": "matte lipstick"},
    {"category": "fragrance", "sort": "price_desc"},
    {"limit": 100},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


async def _drive(base: str, paths: list[str], requests: int, duration: float, concurrency: int):
    latencies: list[float] = []
    errors = 0
    issued = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base, connector=connector) as session:
        # warm-up: every distinct path once (fills the cache when it is on; JIT-free Python,
        # so this mostly opens connections and primes SQLite's page cache)
        for path in paths:
            async with session.get(path) as resp:
                await resp.read()
        deadline = time.perf_counter() + duration
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal errors, issued
            while issued < requests and time.perf_counter() < deadline:
                path = paths[issued % len(paths)]
                issued += 1
                t0 = time.perf_counter()
                async with session.get(path) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p95_ms": round(_percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


async def _detail_paths(base: str, limit: int = 200) -> list[str]:
    slugs: list[str] = []
    cursor = None
    async with aiohttp.ClientSession(base) as session:
        while len(slugs) < limit:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            async with session.get("/api/v1/products", params=params) as resp:
                page = await resp.json()
            slugs.extend(i["slug"] for i in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    return [f"/api/v1/products/{s}" for s in slugs[:limit]]


def _list_paths() -> list[str]:
    return [
        "/api/v1/products" + (f"?{urlencode(q, doseq=True)}" if q else "") for q in LIST_QUERIES
    ]


async def _measure(base: str, label: str, args) -> dict[str, dict]:
    results = {}
    details = await _detail_paths(base)
    for name, paths in (("list", _list_paths()), ("detail", details)):
        r = await _drive(base, paths, args.requests, args.duration, args.concurrency)
        results[name] = r
        print(
            f"{label:<5} {name:<7} {r['rps']:>8.1f} req/s  p50 {r['p50_ms']:>7.2f} ms  "
            f"p95 {r['p95_ms']:>7.2f} ms  p99 {r['p99_ms']:>7.2f} ms  "
            f"({r['requests']} requests, {r['errors']} errors, {r['seconds']} s)",
            flush=True,
        )
    return results


def _prepare_database(url: str, env: dict[str, str]) -> None:
    for command in ("migrate", "seed"):
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "vanity_catalog", command],
            env={**env, "CATALOG_DATABASE_URL": url},
            check=True,
            stdout=subprocess.DEVNULL,
        )


@contextmanager
def _server(url: str, env: dict[str, str], cache: bool, redis_url: str | None):
    port = _free_port()
    server_env = {
        **env,
        "CATALOG_DATABASE_URL": url,
        "CATALOG_HTTP_PORT": str(port),
        "CATALOG_GRPC_PORT": "0",
        "CATALOG_CACHE_ENABLED": "true" if cache else "false",
        "CATALOG_ACCESS_LOG": "false",
        "CATALOG_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        server_env["CATALOG_REDIS_URL"] = redis_url
        server_env["CATALOG_CACHE_PREFIX"] = f"vanity:bench:catalog:{os.getpid()}"
    proc = subprocess.Popen([sys.executable, "-m", "vanity_catalog", "serve"], env=server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("catalog exited during start-up") from None
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if redis_url:  # leave nothing behind in the shared Redis
            import redis

            client = redis.Redis.from_url(redis_url)
            prefix = server_env["CATALOG_CACHE_PREFIX"]
            keys = list(client.scan_iter(f"{prefix}:*"))
            if keys:
                client.delete(*keys)
            client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running catalog (warm run only)")
    parser.add_argument("--cold-url", help="a running catalog started with the cache disabled")
    parser.add_argument("--database-url", help="default: a temporary SQLite file with demo data")
    parser.add_argument("--redis", help="warm run with the Redis cache at this URL")
    parser.add_argument("--requests", type=int, default=4000, help="per scenario (default 4000)")
    parser.add_argument("--duration", type=float, default=15.0, help="max seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    print(
        f"catalog bench: {args.requests} requests or {args.duration:g} s per scenario, "
        f"{args.concurrency} concurrent, {os.cpu_count()} CPUs",
        flush=True,
    )
    results: dict[str, dict] = {}
    if args.url:
        if args.cold_url:
            results["cold"] = asyncio.run(_measure(args.cold_url, "cold", args))
        results["warm"] = asyncio.run(_measure(args.url, "warm", args))
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
        with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
            env["CATALOG_DATA_DIR"] = tmp
            env["CATALOG_KEYS_DIR"] = tmp
            url = args.database_url or f"sqlite+aiosqlite:///{tmp}/catalog.db"
            _prepare_database(url, env)
            backend = "redis" if args.redis else "in-process"
            print(f"database: {url.split('@')[-1]}  warm cache: {backend}", flush=True)
            with _server(url, env, cache=False, redis_url=None) as base:
                results["cold"] = asyncio.run(_measure(base, "cold", args))
            with _server(url, env, cache=True, redis_url=args.redis) as base:
                results["warm"] = asyncio.run(_measure(base, "warm", args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
