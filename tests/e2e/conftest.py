"""The whole suite, started once per test session as `make run` starts it (honcho, real
processes, SQLite under a temporary DATA_DIR), on ports shifted by 1000 so it can run beside a
developer's `make run`. Tests talk to it through the gateway like a client would."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.suite import Layout, Suite, free_offset  # noqa: E402

# Checkout in the e2e suite: a reservation TTL short enough that an abandoned 3-D Secure payment
# times out within a test (the wait ends the margin before the TTL), and a frequent recovery
# sweep (tests/e2e/test_checkout_e2e.py). The suite's processes inherit this environment.
E2E_CHECKOUT_ENV = {
    "CHECKOUT_RESERVATION_TTL_SECONDS": "25",
    "CHECKOUT_PAYMENT_WAIT_MARGIN_SECONDS": "10",
    "CHECKOUT_SAGA_RECOVERY_INTERVAL_SECONDS": "2",
}
for _name, _value in E2E_CHECKOUT_ENV.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    # Ports shifted by 1000 from `make run`'s, or the next free block when something holds them
    # (VANITY_E2E_PORT_OFFSET pins it); looked for just before the suite takes them.
    offset = int(os.environ.get("VANITY_E2E_PORT_OFFSET") or free_offset(1000))
    layout = Layout(tmp_path_factory.mktemp("e2e-data"), offset)
    running = Suite(layout).start()
    try:
        running.ready_seconds = running.wait_ready(timeout=150)
        yield running
    finally:
        leftovers = running.stop()  # Ctrl-C, as a developer stops `make run`
    assert not leftovers, f"processes still alive after Ctrl-C: {sorted(leftovers)}"


@pytest.fixture
async def gateway(suite):
    async with httpx.AsyncClient(base_url=suite.layout.gateway, timeout=10) as client:
        yield client


_addresses = iter(range(10, 250))


@pytest.fixture
async def client_at(suite):
    """Clients from distinct loopback addresses (127.0.3.x): the gateway's per-IP limits see
    distinct shoppers, so one test's sign-ins do not use up another's allowance."""
    opened: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.3.{next(_addresses)}")
        client = httpx.AsyncClient(base_url=suite.layout.gateway, timeout=10, transport=transport)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()
