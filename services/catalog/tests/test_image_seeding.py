"""Demo pictures: the seeder attaches a generated placeholder to every demo product and shade,
deterministically, leaves what admins changed alone, and the pictures are drawn on request."""

from __future__ import annotations

import orjson
from sqlalchemy import select
from vanity_catalog.images.placeholder import product_placeholder, shade_placeholder
from vanity_catalog.images.rules import PLACEHOLDERS, ImageKey, variant_name
from vanity_catalog.seed import load_catalog, load_demo
from vanity_catalog.seed_images import attach_demo_images
from vanity_catalog.tables import products, variants

from .conftest import small_catalog
from .images import decoded


async def _images(catalog) -> tuple[dict[str, list], dict[str, str | None]]:
    async with catalog.app.state.container.db.connect() as conn:
        by_slug = {
            r.slug: r.images for r in await conn.execute(select(products.c.slug, products.c.images))
        }
        by_sku = {
            r.sku: r.image for r in await conn.execute(select(variants.c.sku, variants.c.image))
        }
    return by_slug, by_sku


async def test_seeding_attaches_distinct_deterministic_placeholders(catalog):
    data = small_catalog()
    await catalog.load(data)
    container = catalog.app.state.container
    pid = (await catalog.client.get("/api/v1/products/retinol")).json()["id"]
    edited = ["https://cdn.example/retinol-by-an-admin.jpg"]
    await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"images": edited}, headers=catalog.admin
    )

    first = await attach_demo_images(container.db, container.images, data)
    assert first == {"product_images": 11, "shade_images": 10}
    by_slug, by_sku = await _images(catalog)
    assert by_slug["retinol"] == edited  # an admin's choice is theirs
    spec = {p["slug"]: p for p in data["products"]}
    brands = {
        "atelier-rouge": "Atelier Rouge",
        "nordic-bloom": "Nordic Bloom",
        "blackbird-noir": "Blackbird Noir",
    }
    for slug, images in by_slug.items():
        if slug == "retinol":
            continue
        p = spec[slug]
        shade = next((v["shade_hex"] for v in p["variants"] if v["shade_hex"]), None)
        expected = product_placeholder(slug, p["name"], brands[p["brand"]], shade, 0, p["category"])
        assert images == [str(expected.key)]
    shaded = {
        v["sku"]: v["shade_hex"] for p in data["products"] for v in p["variants"] if v["shade_hex"]
    }
    assert {s for s, image in by_sku.items() if image} == set(shaded)
    keys = [k for images in by_slug.values() for k in images if ImageKey.parse(k)]
    keys += [k for k in by_sku.values() if k]
    assert len(keys) == len(set(keys)) == 21  # one picture each, no two alike

    # only the recipes were stored (one object): the pictures are drawn when asked for
    store = container.images.store
    recipes = set(orjson.loads(await store.get(PLACEHOLDERS)))
    retinol = product_placeholder(
        "retinol", "Retinol Serum", "Nordic Bloom", "#AA0000", 0, "serum"
    ).key
    assert recipes == {*keys, str(retinol)}  # every demo recipe, used or not
    for k in keys:
        assert not await store.exists(variant_name(ImageKey.parse(k), 480))
    written = (store.root / PLACEHOLDERS).stat().st_mtime_ns

    assert await attach_demo_images(container.db, container.images, data) == {
        "product_images": 0,
        "shade_images": 0,
    }
    assert await _images(catalog) == (by_slug, by_sku)
    assert (store.root / PLACEHOLDERS).stat().st_mtime_ns == written  # nothing new: not rewritten

    # the public views point at them; a size is drawn on its first request, then kept
    await container.cache.invalidate()
    detail = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    url = detail["images"][0]
    assert url == f"/api/v1/images/{by_slug['ruby-matte'][0]}/480.webp"
    assert {v["sku"]: v["image"] for v in detail["variants"]}["RUBY-MATTE-0"] == (
        f"/api/v1/images/{by_sku['RUBY-MATTE-0']}/480.webp"
    )
    resp = await catalog.client.get(url)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/webp"
    assert decoded(resp.content).size == (480, 480)
    key = ImageKey.parse(by_slug["ruby-matte"][0])
    path = store.root / variant_name(key, 480)
    assert path.read_bytes() == resp.content
    path.unlink()  # drawn again: the same bytes (deterministic drawing)
    assert (await catalog.client.get(url)).content == resp.content
    shade = await catalog.client.get(f"/api/v1/images/{by_sku['RUBY-MATTE-0']}/160.webp")
    assert shade.status_code == 200 and decoded(shade.content).size == (160, 160)
    expected = shade_placeholder("RUBY-MATTE-0", "Atelier Rouge", "#AA0000").key
    assert by_sku["RUBY-MATTE-0"] == str(expected)


async def test_the_demo_catalog_gets_a_picture_for_every_product_and_shade(sqlite_catalog):
    catalog = sqlite_catalog
    container = catalog.app.state.container
    data = load_demo()
    await load_catalog(container.db, data)
    counts = await attach_demo_images(container.db, container.images, data)
    shades = sum(1 for p in data["products"] for v in p["variants"] if v.get("shade_hex"))
    assert counts == {"product_images": len(data["products"]), "shade_images": shades}
    by_slug, by_sku = await _images(catalog)
    product_keys = [k for images in by_slug.values() for k in images]
    assert all(ImageKey.parse(k) for k in product_keys)
    assert (
        len(set(product_keys))
        == len(product_keys)
        == sum(max(1, len(p["images"])) for p in data["products"])
    )
    shade_keys = [k for k in by_sku.values() if k]
    assert len(set(shade_keys)) == len(shade_keys) == shades
    recipes = orjson.loads(await container.images.store.get(PLACEHOLDERS))
    assert set(recipes) == set(product_keys) | set(shade_keys)
