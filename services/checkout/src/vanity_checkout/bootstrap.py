"""Checkout's composition root: database, ports to the five services the saga drives, and the
use cases, built without FastAPI for the web app, the gRPC servicer, the Celery worker (one per
worker process: the saga recovery sweep calls the other services from there) and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from vanity_common.bootstrap import Clock, ServiceContainer, utcnow
from vanity_common.db import Database
from vanity_common.grpc_client import ChannelPool

from vanity_checkout.ports import CheckoutPorts
from vanity_checkout.service import OrderService
from vanity_checkout.settings import CheckoutSettings, load_settings


@dataclass(kw_only=True, eq=False)
class CheckoutContainer(ServiceContainer):
    settings: CheckoutSettings
    ports: CheckoutPorts
    orders: OrderService


def build_container(
    settings: CheckoutSettings | None = None,
    *,
    clock: Clock = utcnow,
    ports: CheckoutPorts | None = None,
    db: Database | None = None,
    channels: ChannelPool | None = None,
    pool_size: int | None = None,
) -> CheckoutContainer:
    """Tests pass fake `ports`, a clock or a database; the rest comes from the settings."""
    settings = settings or load_settings()
    core = CheckoutContainer.core(settings, db=db, channels=channels, pool_size=pool_size)
    return CheckoutContainer(
        **core,
        clock=clock,
        ports=ports or CheckoutPorts.over_grpc(core["channels"], settings),
        orders=OrderService(core["db"]),
    )
