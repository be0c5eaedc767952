"""What the cart needs from other services, and the gRPC adapters that provide it.

Catalog gives the live price and the product's names (`GetVariants`); inventory gives the units
that can be bought (`GetAvailability`). Each is one round trip per cart read, with a short
deadline: a slow or absent dependency fails fast as the chassis' `DependencyUnavailable` (503),
or `DependencyFailed` (502) for any other refusal, so reads can degrade and writes answer
quickly instead of hanging.

The deadline is passed with every call (grpc computes it from the caller's clock). The channel's
service-config default stays at the chassis' `grpc_default_timeout_s`: with grpcio 1.85 a
service-config deadline is counted from a stale start time after the process has been idle,
so a short one there fails calls at once with DEADLINE_EXCEEDED.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vanity.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from vanity.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from vanity_common.grpc_client import (
    ChannelPool,
    DependencyFailed,
    DependencyUnavailable,
    Port,
)
from vanity_common.mapping import view_from

from vanity_cart.domain import StockState

# What a port raises when its service does not answer usefully (a read degrades on it).
DEPENDENCY_ERRORS = (DependencyUnavailable, DependencyFailed)


@dataclass(frozen=True)
class VariantInfo:
    sku: str
    product_name: str
    product_slug: str
    brand_name: str
    variant_name: str  # shade or size
    image_url: str
    price_minor: int
    currency: str
    on_sale: bool  # false for an inactive variant or a draft / archived product


@dataclass(frozen=True)
class StockInfo:
    sku: str
    known: bool
    available: int
    level: StockState


class CatalogPort(Protocol):
    async def get_variants(self, skus: Sequence[str]) -> dict[str, VariantInfo]:
        """Variants by SKU; an unknown SKU is absent from the answer."""
        ...


class InventoryPort(Protocol):
    async def get_availability(self, skus: Sequence[str]) -> dict[str, StockInfo]: ...


_LEVELS = {
    inventory_pb2.STOCK_LEVEL_IN_STOCK: StockState.IN_STOCK,
    inventory_pb2.STOCK_LEVEL_LOW: StockState.LOW,
    inventory_pb2.STOCK_LEVEL_OUT_OF_STOCK: StockState.OUT_OF_STOCK,
}


class GrpcCatalog(Port):
    grpc_service = "vanity.catalog.v1.CatalogService"
    stub_type = catalog_pb2_grpc.CatalogServiceStub
    idempotent_methods = ("GetVariants",)  # a read: retried on UNAVAILABLE within the deadline

    def __init__(
        self, channels: ChannelPool, target: str, *, timeout_s: float, channel_timeout_s: float
    ) -> None:
        super().__init__(channels, target, timeout_s=channel_timeout_s)
        self.deadline_s = timeout_s

    async def get_variants(self, skus: Sequence[str]) -> dict[str, VariantInfo]:
        if not skus:
            return {}
        response = await self.call(
            "GetVariants",
            catalog_pb2.GetVariantsRequest(skus=list(skus)),
            timeout_s=self.deadline_s,
        )
        return {
            v.sku: view_from(
                VariantInfo,
                v,
                price_minor=int(v.price.amount_minor),
                currency=v.price.currency,
                on_sale=v.active,
            )
            for v in response.variants
        }


class GrpcInventory(Port):
    grpc_service = "vanity.inventory.v1.InventoryService"
    stub_type = inventory_pb2_grpc.InventoryServiceStub
    idempotent_methods = ("GetAvailability",)

    def __init__(
        self, channels: ChannelPool, target: str, *, timeout_s: float, channel_timeout_s: float
    ) -> None:
        super().__init__(channels, target, timeout_s=channel_timeout_s)
        self.deadline_s = timeout_s

    async def get_availability(self, skus: Sequence[str]) -> dict[str, StockInfo]:
        if not skus:
            return {}
        response = await self.call(
            "GetAvailability",
            inventory_pb2.GetAvailabilityRequest(skus=list(skus)),
            timeout_s=self.deadline_s,
        )
        return {
            item.sku: StockInfo(
                sku=item.sku,
                known=item.known,
                available=max(int(item.available), 0) if item.known else 0,
                level=_LEVELS.get(item.level, StockState.OUT_OF_STOCK)
                if item.known
                else StockState.OUT_OF_STOCK,
            )
            for item in response.items
        }
