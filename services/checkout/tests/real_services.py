"""Checkout's app over the real inventory and payments services (each on its own database,
called over gRPC; payments on the mock provider), with the caller's fakes for cart, catalog and
identity. Shared by the MariaDB race tests and `bench/bench_checkout.py` (which imports this
file from its folder: absolute imports only)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from vanity_checkout.app import create_app as checkout_app
from vanity_checkout.ports import CheckoutPorts
from vanity_checkout.settings import CheckoutSettings
from vanity_common.grpc_client import ChannelPool
from vanity_common.migrations import migrate
from vanity_inventory.app import create_app as inventory_app
from vanity_inventory.settings import InventorySettings
from vanity_payments.app import create_app as payments_app
from vanity_payments.settings import PaymentsSettings


class DiscardTasks:
    """The Celery sender's stand-in: checkout's e-mail tasks go nowhere."""

    async def deliver(self, message) -> None:
        return None


async def _no_answer(*_args, **_kwargs) -> None:
    return None


@dataclass
class RealServices:
    inventory: FastAPI | None  # None when it runs in a process of its own (`targets`)
    payments: FastAPI | None
    checkout: FastAPI
    client: httpx.AsyncClient  # checkout's REST API, in process


def service_app(service: str, url: str, common: dict[str, Any]) -> FastAPI:
    """The inventory or payments app on `url` (payments on the mock provider, reporting
    nowhere: checkout is driven directly)."""
    if service == "inventory":
        return inventory_app(InventorySettings(database_url=url, **common))
    return payments_app(
        PaymentsSettings(database_url=url, env="test", **common),
        checkout=SimpleNamespace(order=_no_answer, report_payment_outcome=_no_answer),
        run_relay=False,
    )


def common_settings(keys_dir: Path, data_dir: Path, pool_size: int) -> dict[str, Any]:
    return {
        "keys_dir": keys_dir,
        "grpc_port": 0,
        "data_dir": data_dir,
        "ended_sessions_refresh_seconds": 0,
        "access_log": False,
        "log_level": "WARNING",
        "db_pool_size": pool_size,
    }


async def start_real_services(
    stack: AsyncExitStack,
    urls: dict[str, str],
    *,
    keys_dir: Path,
    data_dir: Path,
    fakes: dict[str, Any],
    pool_size: int,
    targets: dict[str, str] | None = None,
    **checkout_settings: Any,
) -> RealServices:
    """Migrates `urls` (inventory, payments, checkout), starts the apps on `stack` and wires
    checkout's ports: real inventory and payments, `fakes` for cart, catalog, identity.
    `targets`: inventory's and payments' gRPC addresses when they run elsewhere (already
    migrated and started); otherwise they start here."""
    common = common_settings(keys_dir, data_dir, pool_size)
    apps: dict[str, FastAPI | None] = {"inventory": None, "payments": None}
    if targets is None:
        for service, url in urls.items():
            await migrate(f"vanity_{service}", url)
        targets = {}
        for service in apps:
            app = apps[service] = service_app(service, urls[service], common)
            await stack.enter_async_context(LifespanManager(app))
            targets[service] = f"127.0.0.1:{app.state.grpc_port}"
    else:
        await migrate("vanity_checkout", urls["checkout"])
    settings = CheckoutSettings(
        database_url=urls["checkout"],
        inventory_grpc_target=targets["inventory"],
        payments_grpc_target=targets["payments"],
        **common,
        **checkout_settings,
    )
    channels = ChannelPool.from_settings(settings)
    stack.push_async_callback(channels.close)
    real = CheckoutPorts.over_grpc(channels, settings)
    ports = SimpleNamespace(inventory=real.inventory, payments=real.payments, **fakes)
    checkout = checkout_app(settings, ports=ports, task_sender=DiscardTasks())
    await stack.enter_async_context(LifespanManager(checkout))
    client = await stack.enter_async_context(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=checkout), base_url="http://checkout", timeout=60
        )
    )
    return RealServices(apps["inventory"], apps["payments"], checkout, client)
