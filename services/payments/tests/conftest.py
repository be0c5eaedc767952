"""Fixtures for payments' tests: localstripe (a fake Stripe API) started once per run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vanity_testkit import FakeClock

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, deadline: float) -> None:
    """Polls until the server accepts connections (or died, or the deadline passed)."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited early with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"localstripe did not listen on {port} within {STARTUP_TIMEOUT_S} s")


def localstripe_command() -> list[str]:
    script = Path(sys.executable).with_name("localstripe")
    if script.exists():
        return [str(script)]
    found = shutil.which("localstripe")
    if found:
        return [found]
    pytest.skip("localstripe is not installed (a dev dependency)")


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory) -> Iterator[str]:
    """localstripe on a free port with its own working directory and TMPDIR, from scratch.
    (It still writes /tmp/localstripe.pickle, a fixed path, but never reads it with
    --from-scratch, so parallel runs keep separate state.)"""
    workdir = tmp_path_factory.mktemp("localstripe")
    port = free_port()
    log = (workdir / "localstripe.log").open("wb")
    process = subprocess.Popen(
        [*localstripe_command(), "--port", str(port), "--from-scratch"],
        cwd=workdir,
        env={**os.environ, "TMPDIR": str(workdir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, time.monotonic() + STARTUP_TIMEOUT_S)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (for a refused connection)."""
    return free_port()


# ---- a running payments app (REST + gRPC) with the mock provider in its own database --------

WEBHOOK_SECRET = "whsec_test_secret_for_tests"


class FakeCheckout:
    """Checkout as payments sees it through its port: orders to look up, outcomes received."""

    def __init__(self) -> None:
        self.orders: dict[str, object] = {}
        self.reports: list[dict] = []

    async def order(self, order_id: str):
        return self.orders.get(order_id)

    async def report_payment_outcome(self, **report):
        self.reports.append(report)
        return self.orders.get(report["order_id"])


class AsgiWebhookSender:
    """Delivers the mock's signed events to the app under test, as Stripe POSTs them."""

    def __init__(self) -> None:
        self.client = None
        self.answers: list[int] = []

    async def __call__(self, webhook) -> None:
        response = await self.client.post(
            "/api/v1/payments/webhooks/stripe", content=webhook.payload, headers=webhook.headers
        )
        self.answers.append(response.status_code)
        response.raise_for_status()


class Harness:
    def __init__(self, app, http, checkout: FakeCheckout, clock) -> None:
        import grpc
        from vanity.payments.v1 import payments_pb2_grpc

        self.app = app
        self.http = http
        self.checkout = checkout
        self.clock = clock
        self.container = app.state.container
        self.payments = self.container.payments
        self.provider = self.container.provider
        self.db = self.container.db
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.state.grpc_port}")
        self.grpc = payments_pb2_grpc.PaymentsServiceStub(self.channel)

    async def settle(self) -> int:
        """Delivers every outbox message (webhooks, outcomes) until none is left."""
        total = 0
        while delivered := await self.container.relay.drain():
            total += delivered
        return total

    async def charge(
        self,
        key: str,
        *,
        order_id: str = "order-1",
        amount: int = 5_000,
        method: str = "pm_card_visa",
        capture: bool = False,
        currency: str = "EUR",
    ):
        from vanity.common.v1 import common_pb2
        from vanity.payments.v1 import payments_pb2

        return await self.grpc.Charge(
            payments_pb2.ChargeRequest(
                idempotency_key=key,
                order_id=order_id,
                user_id="user-1",
                amount=common_pb2.Money(amount_minor=amount, currency=currency),
                payment_method=method,
                capture=capture,
            )
        )

    async def count(self, table) -> int:
        from sqlalchemy import func, select

        async with self.db.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


def harness_settings(database_url: str, tmp_path: Path, keys_dir: Path, **extra):
    from vanity_payments.settings import PaymentsSettings

    return PaymentsSettings(
        env="test",
        database_url=database_url,
        data_dir=tmp_path,
        keys_dir=keys_dir,
        grpc_port=0,
        access_log=False,
        log_level="WARNING",
        ended_sessions_refresh_seconds=0,
        stripe_webhook_secret=WEBHOOK_SECRET,
        **extra,
    )


@pytest.fixture
async def harness_factory(tmp_path, token_minter):
    """Builds running apps on a database; overrides go to build_container."""
    from contextlib import AsyncExitStack

    import httpx
    from asgi_lifespan import LifespanManager
    from vanity_common.migrations import migrate
    from vanity_payments.app import create_app

    stack = AsyncExitStack()
    migrated: set[str] = set()

    async def make(database_url: str, **overrides) -> Harness:
        if database_url not in migrated:
            await migrate("vanity_payments", database_url)
            migrated.add(database_url)
        checkout = overrides.pop("checkout", None) or FakeCheckout()
        clock = overrides.pop("clock", None) or FakeClock(datetime.now(UTC))
        sender = AsgiWebhookSender()
        app = create_app(
            harness_settings(database_url, tmp_path, token_minter.keys_dir),
            checkout=checkout,
            clock=clock,
            webhook_sender=sender,
            run_relay=False,
            **overrides,
        )
        await stack.enter_async_context(LifespanManager(app))
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments")
        )
        sender.client = http
        harness = Harness(app, http, checkout, clock)
        stack.push_async_callback(harness.channel.close)
        return harness

    yield make
    await stack.aclose()


@pytest.fixture
async def harness(harness_factory, database_url) -> Harness:
    return await harness_factory(database_url)
