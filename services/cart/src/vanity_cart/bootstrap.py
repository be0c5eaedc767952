"""Cart's composition root: the database, the catalog and inventory ports and the use cases,
built once for the web process, the Celery worker and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from vanity_common.bootstrap import Clock, ServiceContainer, utcnow
from vanity_common.db import Database
from vanity_common.grpc_client import ChannelPool

from vanity_cart.domain import Limits
from vanity_cart.ports import CatalogPort, GrpcCatalog, GrpcInventory, InventoryPort
from vanity_cart.service import CartService
from vanity_cart.settings import CartSettings, load_settings


@dataclass(kw_only=True, eq=False)
class CartContainer(ServiceContainer):
    settings: CartSettings
    cart: CartService


def build_container(
    settings: CartSettings | None = None,
    *,
    db: Database | None = None,
    channels: ChannelPool | None = None,
    catalog: CatalogPort | None = None,
    inventory: InventoryPort | None = None,
    clock: Clock = utcnow,
    pool_size: int | None = None,
) -> CartContainer:
    """Tests pass their own ports or clock; everything else comes from the settings."""
    settings = settings or load_settings()
    core = ServiceContainer.core(settings, db=db, channels=channels, pool_size=pool_size)
    deadlines = {
        "timeout_s": settings.dependency_timeout_s,
        "channel_timeout_s": settings.grpc_default_timeout_s,
    }
    service = CartService(
        core["db"],
        catalog or GrpcCatalog(core["channels"], settings.catalog_grpc_target, **deadlines),
        inventory or GrpcInventory(core["channels"], settings.inventory_grpc_target, **deadlines),
        Limits(settings.max_lines, settings.max_quantity_per_line),
        guest_cart_ttl=timedelta(days=settings.guest_cart_ttl_days),
        clock=clock,
    )
    return CartContainer(**core, clock=clock, cart=service)
