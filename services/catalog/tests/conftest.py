"""Catalog test fixtures: a migrated catalog app (SQLite and MariaDB) with an HTTP client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from vanity_catalog.app import create_app
from vanity_catalog.seed import load_catalog
from vanity_catalog.settings import CatalogSettings
from vanity_common.migrations import migrate
from vanity_testkit import TokenMinter

REDIS_TEST_URL = os.environ.get("VANITY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass
class Catalog:
    app: FastAPI
    client: httpx.AsyncClient
    minter: TokenMinter

    @property
    def admin(self) -> dict[str, str]:
        return self.minter.headers(self.minter.admin(perms=("catalog",)))

    @property
    def customer(self) -> dict[str, str]:
        return self.minter.headers(self.minter.token())

    async def load(self, data: dict[str, Any]) -> None:
        await load_catalog(self.app.state.container.db, data)
        await self.app.state.container.cache.invalidate()

    async def all_pages(self, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        items, cursor = [], None
        for _ in range(1000):
            query = {**params, "limit": limit}
            if cursor:
                query["cursor"] = cursor
            resp = await self.client.get("/api/v1/products", params=query)
            assert resp.status_code == 200, resp.text
            page = resp.json()
            items.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("pagination did not end")


async def _start(tmp_path, url: str, minter: TokenMinter, **overrides) -> AsyncIterator[Catalog]:
    await migrate("vanity_catalog", url)
    options = {
        "database_url": url,
        "keys_dir": minter.keys_dir,
        "grpc_port": 0,
        "data_dir": tmp_path,
        "redis_url": None,
        "log_json": False,
        "access_log": False,
        **overrides,
    }
    settings = CatalogSettings(**options)
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            yield Catalog(app, client, minter)


@pytest.fixture
async def catalog(database_url, token_minter, tmp_path) -> AsyncIterator[Catalog]:
    async for c in _start(tmp_path, database_url, token_minter):
        yield c


@pytest.fixture
async def sqlite_catalog(sqlite_url, token_minter, tmp_path) -> AsyncIterator[Catalog]:
    """For behaviour that does not depend on the database (authorization)."""
    async for c in _start(tmp_path, sqlite_url, token_minter):
        yield c


@pytest.fixture
async def uncached_catalog(database_url, token_minter, tmp_path) -> AsyncIterator[Catalog]:
    async for c in _start(tmp_path, database_url, token_minter, cache_enabled=False):
        yield c


def redis_reachable() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
        return True
    except redis.RedisError:
        return False


@pytest.fixture(params=["local", "redis"])
async def cache_backend_catalog(request, database_url, token_minter, tmp_path):
    """The same catalog with the in-process cache and with Redis (own key prefix, cleaned up)."""
    if request.param == "local":
        async for c in _start(tmp_path, database_url, token_minter):
            yield c
        return
    if not redis_reachable():
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on CI")
        pytest.skip("Redis not reachable")
    prefix = f"vanity:test:catalog:{uuid.uuid4().hex}"
    try:
        async for c in _start(
            tmp_path, database_url, token_minter, redis_url=REDIS_TEST_URL, cache_prefix=prefix
        ):
            assert c.app.state.container.cache.backend == "redis"
            yield c
    finally:
        import redis

        client = redis.Redis.from_url(REDIS_TEST_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


# ---- a small hand-made catalog whose answers the tests can compute -------------------------

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _variant(sku: str, price: int, active: bool = True, name: str | None = None, hex_=None):
    return {
        "sku": sku,
        "name": name or sku,
        "shade_hex": hex_,
        "size": None,
        "price_minor": price,
        "currency": "EUR",
        "active": active,
    }


def small_catalog() -> dict[str, Any]:
    """3 brands, a 3-level tree, 12 products (10 listed) with known prices, tags and times."""
    categories = [
        {
            "slug": "makeup",
            "name": "Makeup",
            "children": [
                {
                    "slug": "lips",
                    "name": "Lips",
                    "children": [
                        {"slug": "lipstick", "name": "Lipstick", "children": []},
                        {"slug": "lip-gloss", "name": "Lip Gloss", "children": []},
                    ],
                },
                {
                    "slug": "eyes",
                    "name": "Eyes",
                    "children": [{"slug": "mascara", "name": "Mascara", "children": []}],
                },
            ],
        },
        {
            "slug": "skincare",
            "name": "Skincare",
            "children": [
                {
                    "slug": "treatments",
                    "name": "Treatments",
                    "children": [{"slug": "serum", "name": "Serum", "children": []}],
                }
            ],
        },
    ]
    brands = [
        {"slug": "atelier-rouge", "name": "Atelier Rouge", "description": "Lips."},
        {"slug": "nordic-bloom", "name": "Nordic Bloom", "description": "Skin."},
        {"slug": "blackbird-noir", "name": "Blackbird Noir", "description": "Eyes."},
    ]
    spec = [
        # slug, name, brand, category, prices (active), tags, description
        (
            "ruby-matte",
            "Ruby Matte Lipstick",
            "atelier-rouge",
            "lipstick",
            [2400, 2600],
            ["vegan", "bestseller"],
            "A bold red.",
        ),
        (
            "nude-satin",
            "Nude Satin Lipstick",
            "atelier-rouge",
            "lipstick",
            [2200],
            ["vegan"],
            "Everyday nude.",
        ),
        (
            "creme-gloss",
            "Crème Gloss",
            "atelier-rouge",
            "lip-gloss",
            [1800],
            ["new"],
            "Glassy shine.",
        ),
        (
            "plump-gloss",
            "Plumping Gloss",
            "nordic-bloom",
            "lip-gloss",
            [2000],
            [],
            "Peppermint plumping.",
        ),
        (
            "volume-mascara",
            "Volume Mascara",
            "blackbird-noir",
            "mascara",
            [2900, 3100],
            ["bestseller", "long-wear"],
            "Jet black lashes.",
        ),
        (
            "length-mascara",
            "Lengthening Mascara",
            "blackbird-noir",
            "mascara",
            [2500],
            ["long-wear"],
            "Tubing formula.",
        ),
        (
            "vitamin-c",
            "Vitamin C Serum",
            "nordic-bloom",
            "serum",
            [4800, 6900],
            ["bestseller"],
            "Brightening ascorbic acid.",
        ),
        (
            "hyaluronic",
            "Hyaluronic Serum",
            "nordic-bloom",
            "serum",
            [3500],
            ["vegan", "fragrance-free"],
            "Plumping hydration.",
        ),
        ("retinol", "Retinol Serum", "nordic-bloom", "serum", [5200], [], "Night renewal."),
        ("balm-stick", "Balm Stick", "atelier-rouge", "makeup", [1500], ["vegan"], "Tinted balm."),
    ]
    products = []
    for i, (slug, name, brand, category, prices, tags, description) in enumerate(spec):
        products.append(
            {
                "slug": slug,
                "name": name,
                "brand": brand,
                "category": category,
                "description": description,
                "images": [f"https://cdn.example/{slug}.jpg"],
                "attributes": {},
                "tags": tags,
                "status": "active",
                "created_at": (T0 + timedelta(hours=i)).isoformat(),
                "variants": [
                    _variant(f"{slug.upper()}-{j}", p, hex_="#AA0000" if j == 0 else None)
                    for j, p in enumerate(prices)
                ]
                + [_variant(f"{slug.upper()}-OFF", 100, active=False)],
            }
        )
    products.append(
        {
            "slug": "secret-draft",
            "name": "Secret Draft Lipstick",
            "brand": "atelier-rouge",
            "category": "lipstick",
            "description": "Not yet.",
            "images": [],
            "attributes": {},
            "tags": ["vegan"],
            "status": "draft",
            "created_at": (T0 + timedelta(hours=20)).isoformat(),
            "variants": [_variant("SECRET-0", 1000)],
        }
    )
    products.append(
        {
            "slug": "gone-archived",
            "name": "Archived Serum",
            "brand": "nordic-bloom",
            "category": "serum",
            "description": "Discontinued.",
            "images": [],
            "attributes": {},
            "tags": [],
            "status": "archived",
            "created_at": (T0 + timedelta(hours=21)).isoformat(),
            "variants": [_variant("GONE-0", 1000)],
        }
    )
    return {"currency": "EUR", "brands": brands, "categories": categories, "products": products}


LISTED = {p["slug"] for p in small_catalog()["products"] if p["status"] == "active"}
