"""Demo pictures: a generated placeholder for every demo product and every demo shade.

The demo file's image URLs name a CDN that never existed; each of them becomes a placeholder
(one per listed URL, a different composition each), and every shade its own swatch. Only what
the seeder itself put there is replaced: a product whose `images` are still exactly the demo
file's, a demo shade with no image. An image an admin uploaded or edited is left alone.

Quick on purpose (it runs whenever the suite starts): only the recipes are stored here, all in
one object of ~100 bytes a picture; the pictures are drawn the first time a size is asked for
(`ImageLibrary.variant`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from vanity_common.db import Database

from vanity_catalog.images.placeholder import (
    Placeholder,
    product_placeholder,
    shade_placeholder,
)
from vanity_catalog.service.images import ImageLibrary
from vanity_catalog.tables import brands, products, variants


async def attach_demo_images(
    db: Database, library: ImageLibrary, data: dict[str, Any]
) -> dict[str, int]:
    demo = {p["slug"]: p for p in data["products"]}
    demo_skus = {v["sku"] for p in data["products"] for v in p["variants"]}
    async with db.connect() as conn:
        rows = list(
            await conn.execute(
                select(products.c.id, products.c.slug, products.c.images, brands.c.name)
                .join(brands, brands.c.id == products.c.brand_id)
                .where(products.c.slug.in_(list(demo)))
            )
        )
        brand_of = {r.id: r.name for r in rows}
        shade_rows = list(
            await conn.execute(
                select(
                    variants.c.id,
                    variants.c.product_id,
                    variants.c.sku,
                    variants.c.shade_hex,
                    variants.c.image,
                )
                .where(variants.c.product_id.in_(list(brand_of)))
                .where(variants.c.shade_hex.is_not(None))
            )
        )

    recipes: list[Placeholder] = []
    product_updates, variant_updates = [], []
    for row in rows:
        spec = demo[row.slug]
        listed = spec.get("images", [])
        shade = next((v["shade_hex"] for v in spec["variants"] if v.get("shade_hex")), None)
        pictures = [
            product_placeholder(row.slug, spec["name"], row.name, shade, index, spec["category"])
            for index in range(max(1, len(listed)))
        ]
        recipes += pictures
        if list(row.images or []) == listed:  # still the demo file's: the seeder's to replace
            product_updates.append({"pid": row.id, "imgs": [str(p.key) for p in pictures]})
    for v in shade_rows:
        if v.sku not in demo_skus:
            continue
        picture = shade_placeholder(v.sku, brand_of[v.product_id], v.shade_hex)
        recipes.append(picture)
        if v.image is None:
            variant_updates.append({"vid": v.id, "img": str(picture.key)})

    # Every demo recipe is made sure of, also those of an earlier seed (a fresh images folder
    # under an old database): one object read, written only when something is new.
    await library.save_placeholders(recipes)

    if product_updates or variant_updates:
        async with db.unit_of_work() as uow:
            if product_updates:
                await uow.conn.execute(
                    update(products)
                    .where(products.c.id == bindparam("pid"))
                    .values(images=bindparam("imgs")),
                    product_updates,
                )
            if variant_updates:
                await uow.conn.execute(
                    update(variants)
                    .where(variants.c.id == bindparam("vid"))
                    .values(image=bindparam("img")),
                    variant_updates,
                )
    return {"product_images": len(product_updates), "shade_images": len(variant_updates)}
