"""Fixtures for cart tests: catalog and inventory stand-ins served over real gRPC (behind the
chassis' TCP proxy, so a test can cut either one), a running cart app, a controllable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import httpx
import pytest
from asgi_lifespan import LifespanManager
from vanity.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from vanity.common.v1 import common_pb2
from vanity.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from vanity_cart.app import create_app
from vanity_cart.settings import CartSettings
from vanity_common.migrations import migrate
from vanity_testkit import FakeClock, TcpProxy

LOW_STOCK = 3


@dataclass
class Shop:
    """What catalog and inventory know: variants (sku -> fields) and units available."""

    variants: dict[str, dict] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    catalog_calls: list[list[str]] = field(default_factory=list)
    inventory_calls: list[list[str]] = field(default_factory=list)
    delay_s: float = 0.0  # a slow dependency: the stand-ins wait this long before answering

    def product(self, sku: str, price: int, stock: int, *, active: bool = True, **extra) -> None:
        self.variants[sku] = {
            "product_name": extra.get("name", f"Product {sku}"),
            "variant_name": extra.get("variant_name", "Ruby"),
            "brand_name": "Vanity",
            "product_slug": f"product-{sku.lower()}",
            "image_url": f"https://img.example/{sku}.jpg",
            "price": price,
            "active": active,
        }
        self.stock[sku] = stock


class StandInCatalog(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    async def GetVariants(self, request, context):
        skus = list(dict.fromkeys(request.skus))
        self.shop.catalog_calls.append(skus)
        if self.shop.delay_s:
            await asyncio.sleep(self.shop.delay_s)
        found = [s for s in skus if s in self.shop.variants]
        return catalog_pb2.GetVariantsResponse(
            variants=[
                catalog_pb2.Variant(
                    sku=s,
                    product_id="1",
                    product_slug=self.shop.variants[s]["product_slug"],
                    product_name=self.shop.variants[s]["product_name"],
                    brand_name=self.shop.variants[s]["brand_name"],
                    variant_name=self.shop.variants[s]["variant_name"],
                    price=common_pb2.Money(
                        amount_minor=self.shop.variants[s]["price"], currency="EUR"
                    ),
                    active=self.shop.variants[s]["active"],
                    image_url=self.shop.variants[s]["image_url"],
                )
                for s in found
            ],
            unknown_skus=[s for s in skus if s not in self.shop.variants],
        )


class StandInInventory(inventory_pb2_grpc.InventoryServiceServicer):
    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    async def GetAvailability(self, request, context):
        skus = list(dict.fromkeys(request.skus))
        self.shop.inventory_calls.append(skus)
        if self.shop.delay_s:
            await asyncio.sleep(self.shop.delay_s)
        items = []
        for s in skus:
            available = self.shop.stock.get(s, 0)
            level = (
                inventory_pb2.STOCK_LEVEL_OUT_OF_STOCK
                if available <= 0
                else inventory_pb2.STOCK_LEVEL_LOW
                if available <= LOW_STOCK
                else inventory_pb2.STOCK_LEVEL_IN_STOCK
            )
            items.append(
                inventory_pb2.SkuAvailability(
                    sku=s, known=s in self.shop.stock, available=available, level=level
                )
            )
        return inventory_pb2.GetAvailabilityResponse(items=items)


@dataclass
class Dependencies:
    shop: Shop
    catalog: TcpProxy
    inventory: TcpProxy


@pytest.fixture
async def dependencies() -> AsyncIterator[Dependencies]:
    """Catalog and inventory stand-ins on one real gRPC server, each behind its own proxy."""
    shop = Shop()
    server = grpc.aio.server()
    catalog_pb2_grpc.add_CatalogServiceServicer_to_server(StandInCatalog(shop), server)
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(StandInInventory(shop), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    catalog = await TcpProxy("127.0.0.1", port).start()
    inventory = await TcpProxy("127.0.0.1", port).start()
    try:
        yield Dependencies(shop, catalog, inventory)
    finally:
        await catalog.cut()
        await inventory.cut()
        await server.stop(None)


def cart_settings(url: str, tmp_path, token_minter, deps: Dependencies, **overrides):
    # A generous deadline: on a busy test machine a healthy stand-in may take a few hundred ms.
    # Tests of the deadline itself pass their own (test_degraded).
    overrides.setdefault("dependency_timeout_s", 3.0)
    return CartSettings(
        database_url=url,
        data_dir=tmp_path,
        keys_dir=token_minter.keys_dir,
        grpc_port=0,
        log_json=False,
        access_log=False,
        catalog_grpc_target=f"127.0.0.1:{deps.catalog.port}",
        inventory_grpc_target=f"127.0.0.1:{deps.inventory.port}",
        **overrides,
    )


@dataclass
class Running:
    app: object
    client: httpx.AsyncClient
    deps: Dependencies
    shop: Shop
    clock: FakeClock

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.app.state.grpc_port}"

    @property
    def service(self):
        return self.app.state.container.cart


async def start(url, tmp_path, token_minter, deps, clock, **overrides):
    await migrate("vanity_cart", url)
    settings = cart_settings(url, tmp_path, token_minter, deps, **overrides)
    return create_app(settings, clock=clock)


@pytest.fixture
async def running(database_url, tmp_path, token_minter, dependencies, clock):
    app = await start(database_url, tmp_path, token_minter, dependencies, clock, max_lines=3)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cart") as client:
            yield Running(app, client, dependencies, dependencies.shop, clock)


class InProcessCatalog:
    """The catalog port answered from a `Shop` in this process (service-level tests)."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    async def get_variants(self, skus):
        from vanity_cart.ports import VariantInfo

        self.shop.catalog_calls.append(list(skus))
        return {
            s: VariantInfo(
                sku=s,
                product_name=v["product_name"],
                product_slug=v["product_slug"],
                brand_name=v["brand_name"],
                variant_name=v["variant_name"],
                image_url=v["image_url"],
                price_minor=v["price"],
                currency="EUR",
                on_sale=v["active"],
            )
            for s in skus
            if (v := self.shop.variants.get(s))
        }


class InProcessInventory:
    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    async def get_availability(self, skus):
        from vanity_cart.domain import StockState
        from vanity_cart.ports import StockInfo

        self.shop.inventory_calls.append(list(skus))
        out = {}
        for s in skus:
            n = self.shop.stock.get(s, 0)
            level = (
                StockState.OUT_OF_STOCK
                if n <= 0
                else StockState.LOW
                if n <= LOW_STOCK
                else StockState.IN_STOCK
            )
            out[s] = StockInfo(s, s in self.shop.stock, n, level)
        return out


async def make_container(url: str, tmp_path, clock, shop: Shop, pool_size: int = 10, **settings):
    from vanity_cart.bootstrap import build_container

    await migrate("vanity_cart", url)
    return build_container(
        CartSettings(database_url=url, data_dir=tmp_path, log_json=False, **settings),
        catalog=InProcessCatalog(shop),
        inventory=InProcessInventory(shop),
        clock=clock,
        pool_size=pool_size,
    )
