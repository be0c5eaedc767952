"""Loads the demo catalog (deploy/demo/catalog.json) into the database, idempotently.

The committed file is the one source (inventory reads its SKUs too); `python -m
tools.catalog_demo` regenerates it.

Rows are matched by slug (brands, categories, products) and SKU (variants): what exists is left
alone, what is missing is added, so re-running `seed` is harmless. One transaction.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from vanity_common.clock import utcnow
from vanity_common.db import Database
from vanity_common.settings import REPO_ROOT

from vanity_catalog import repository as repo
from vanity_catalog.domain import normalise_tags, search_text, sort_name
from vanity_catalog.settings import CatalogSettings
from vanity_catalog.tables import brands, categories, product_tags, products, variants

log = logging.getLogger(__name__)

DEMO_FILE = REPO_ROOT / "deploy" / "demo" / "catalog.json"


def load_demo(path: Path = DEMO_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _ts(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


async def load_catalog(db: Database, data: dict[str, Any]) -> dict[str, int]:
    now = utcnow()
    added = {"brands": 0, "categories": 0, "products": 0, "variants": 0}
    async with db.unit_of_work() as uow:
        conn = uow.conn
        brand_ids = {s: i for i, s in await conn.execute(select(brands.c.id, brands.c.slug))}
        brand_names = dict(list(await conn.execute(select(brands.c.slug, brands.c.name))))
        for b in data["brands"]:
            if b["slug"] not in brand_ids:
                brand_ids[b["slug"]] = await repo.insert_row(
                    conn,
                    brands,
                    {
                        "slug": b["slug"],
                        "name": b["name"],
                        "description": b.get("description", ""),
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                brand_names[b["slug"]] = b["name"]
                added["brands"] += 1

        existing = {
            r.slug: r
            for r in await conn.execute(
                select(categories.c.id, categories.c.slug, categories.c.path)
            )
        }
        category_ids = {slug: r.id for slug, r in existing.items()}

        async def add_categories(nodes, parent_id, parent_path, depth):
            for position, node in enumerate(nodes):
                row = existing.get(node["slug"])
                if row is None:
                    cid = await repo.insert_row(
                        conn,
                        categories,
                        {
                            "slug": node["slug"],
                            "name": node["name"],
                            "parent_id": parent_id,
                            "path": "",
                            "depth": depth,
                            "position": position,
                            "created_at": now,
                            "updated_at": now,
                        },
                    )
                    path = f"{parent_path}{cid}/"
                    await repo.update_row(conn, categories, cid, {"path": path})
                    added["categories"] += 1
                else:
                    cid, path = row.id, row.path
                category_ids[node["slug"]] = cid
                await add_categories(node.get("children", []), cid, path, depth + 1)

        await add_categories(data["categories"], None, "/", 1)

        known_products = {
            s: i for i, s in await conn.execute(select(products.c.id, products.c.slug))
        }
        known_skus = {s for (s,) in await conn.execute(select(variants.c.sku))}
        touched: list[int] = []
        for p in data["products"]:
            product_id = known_products.get(p["slug"])
            created = _ts(p.get("created_at"), now)
            tags = normalise_tags(p.get("tags", []))
            if product_id is None:
                product_id = await repo.insert_row(
                    conn,
                    products,
                    {
                        "slug": p["slug"],
                        "name": p["name"],
                        "sort_name": sort_name(p["name"]),
                        "brand_id": brand_ids[p["brand"]],
                        "category_id": category_ids[p["category"]],
                        "description": p.get("description", ""),
                        "images": p.get("images", []),
                        "attributes": p.get("attributes", {}),
                        "tags": tags,
                        "status": p.get("status", "active"),
                        "min_price_minor": None,
                        "currency": data.get("currency", "EUR"),
                        "search_text": search_text(
                            p["name"], brand_names[p["brand"]], p.get("description", ""), tags
                        ),
                        "created_at": created,
                        "updated_at": created,
                    },
                )
                if tags:
                    await conn.execute(
                        insert(product_tags), [{"product_id": product_id, "tag": t} for t in tags]
                    )
                added["products"] += 1
            rows = [
                {
                    "product_id": product_id,
                    "sku": v["sku"],
                    "name": v["name"],
                    "shade_hex": v.get("shade_hex"),
                    "size": v.get("size"),
                    "price_minor": int(v["price_minor"]),
                    "currency": v.get("currency", "EUR"),
                    "active": bool(v.get("active", True)),
                    "position": position,
                    "created_at": created,
                    "updated_at": created,
                }
                for position, v in enumerate(p["variants"])
                if v["sku"] not in known_skus
            ]
            if rows:
                await conn.execute(insert(variants), rows)
                known_skus.update(r["sku"] for r in rows)
                added["variants"] += len(rows)
                touched.append(product_id)
        for product_id in touched:
            await repo.refresh_min_price(conn, product_id, now)
    return added


async def seed(settings: CatalogSettings) -> None:
    from vanity_catalog.bootstrap import build_container
    from vanity_catalog.seed_images import attach_demo_images

    async with build_container(settings, pool_size=2) as services:
        data = load_demo()
        added = await load_catalog(services.db, data)
        log.info("catalog demo data loaded: %s", added)
        # generated pictures instead of the demo file's (fictional) image URLs
        await services.images.store.setup()
        pictures = await attach_demo_images(services.db, services.images, data)
        log.info("catalog demo pictures: %s", pictures)
        # Running catalog processes sharing a Redis cache must not serve the old catalog.
        await services.cache.invalidate()
