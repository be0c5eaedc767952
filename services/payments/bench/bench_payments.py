"""Benchmark: authorize + capture through payments' gRPC API with the mock provider on MariaDB.

    .venv/bin/python services/payments/bench/bench_payments.py --concurrency 16 --seconds 20

One payments process (FastAPI on uvicorn + grpc.aio on one event loop, as in production) on a
throwaway MariaDB database; its outbox relay runs as in production, so every mock intent's
Stripe events are signed and POSTed to payments' own webhook endpoint over HTTP while the
benchmark runs (that load is part of the figures). `--concurrency` clients each loop: Charge
(capture=false, a fresh idempotency key) then Capture of the payment it got. Reported: pairs/s,
gRPC calls/s, and p50/p95/p99 of each call and of the pair. MariaDB from
VANITY_BENCH_MARIADB_URL (default mysql+asyncmy://root@127.0.0.1:3306).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from vanity.common.v1 import common_pb2
from vanity.payments.v1 import payments_pb2 as pb
from vanity.payments.v1 import payments_pb2_grpc
from vanity_common.app import uvicorn_config
from vanity_common.migrations import migrate
from vanity_common.outbox import count_by_status
from vanity_payments.app import create_app
from vanity_payments.settings import PaymentsSettings


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(name: str, latencies_s: list[float]) -> str:
    ms = [v * 1000 for v in latencies_s]
    return (
        f"{name:<18} n={len(ms):6d}  p50 {pct(ms, 0.50):7.2f} ms  p95 {pct(ms, 0.95):7.2f} ms  "
        f"p99 {pct(ms, 0.99):7.2f} ms  mean {statistics.fmean(ms):7.2f} ms"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def client(stub, deadline: float, pairs: list, charges: list, captures: list, n: int):
    while time.perf_counter() < deadline:
        key = f"bench:{uuid.uuid4().hex}"
        started = time.perf_counter()
        payment = await stub.Charge(
            pb.ChargeRequest(
                idempotency_key=key,
                order_id=f"order-{uuid.uuid4().hex[:20]}",
                user_id=f"user-{n}",
                amount=common_pb2.Money(amount_minor=4_999, currency="EUR"),
                payment_method="pm_card_visa",
                capture=False,
            )
        )
        charged = time.perf_counter()
        assert payment.status == pb.PAYMENT_STATUS_AUTHORIZED, payment
        captured = await stub.Capture(pb.CaptureRequest(payment_id=payment.payment_id))
        done = time.perf_counter()
        assert captured.status == pb.PAYMENT_STATUS_CAPTURED, captured
        charges.append(charged - started)
        captures.append(done - charged)
        pairs.append(done - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--without-relay",
        action="store_true",
        help="do not run the outbox relay (no webhooks to self): the API path alone",
    )
    args = parser.parse_args()

    server_url = os.environ.get("VANITY_BENCH_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306")
    name = f"bench_payments_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    database_url = f"{server_url}/{name}"
    logging.disable(logging.WARNING)  # the access log of thousands of webhooks is not the point
    try:
        await migrate("vanity_payments", database_url)
        http_port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            settings = PaymentsSettings(
                env="test",
                database_url=database_url,
                data_dir=Path(tmp),
                http_port=http_port,
                grpc_port=0,
                access_log=False,
                log_level="ERROR",
                ended_sessions_refresh_seconds=0,
                mock_webhook_url=f"http://127.0.0.1:{http_port}/api/v1/payments/webhooks/stripe",
            )
            app = create_app(settings, run_relay=not args.without_relay)
            config = uvicorn_config(app, settings)
            config.loop = "asyncio"
            server = uvicorn.Server(config)
            serving = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes only this flag
                await asyncio.sleep(0.05)
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.state.grpc_port}")
            stub = payments_pb2_grpc.PaymentsServiceStub(channel)
            try:
                warm: list = []
                await asyncio.gather(
                    *(
                        client(stub, time.perf_counter() + args.warmup, warm, [], [], i)
                        for i in range(args.concurrency)
                    )
                )
                pairs: list[float] = []
                charges: list[float] = []
                captures: list[float] = []
                started = time.perf_counter()
                deadline = started + args.seconds
                await asyncio.gather(
                    *(
                        client(stub, deadline, pairs, charges, captures, i)
                        for i in range(args.concurrency)
                    )
                )
                elapsed = time.perf_counter() - started
                container = app.state.container
                outbox = await count_by_status(container.db)
            finally:
                await channel.close()
                server.should_exit = True
                await serving
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        await admin.dispose()

    print(
        f"payments gRPC benchmark: mock provider, MariaDB, {platform.node()} "
        f"({os.cpu_count()} CPUs), one payments process, concurrency {args.concurrency}, "
        f"{args.seconds:.0f} s after {args.warmup:.0f} s warm-up"
    )
    print(
        f"authorize+capture pairs/s {len(pairs) / elapsed:8.1f}   "
        f"gRPC calls/s {2 * len(pairs) / elapsed:8.1f}"
    )
    print(summary("Charge (authorize)", charges))
    print(summary("Capture", captures))
    print(summary("authorize+capture", pairs))
    print(f"outbox at the end (webhooks to self still queued or sent): {outbox}")


if __name__ == "__main__":
    asyncio.run(main())
