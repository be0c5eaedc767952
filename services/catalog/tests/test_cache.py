"""Cached public reads are never stale after an admin write (in-process and Redis caches)."""

from __future__ import annotations

from sqlalchemy import update
from vanity_catalog.tables import brands, variants

from .conftest import small_catalog


async def _warm(catalog, path, params=None):
    first = await catalog.client.get(path, params=params)
    second = await catalog.client.get(path, params=params)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    return first.json()


async def _pid(catalog, slug):
    resp = await catalog.client.get(
        "/api/v1/admin/products", params={"limit": 100}, headers=catalog.admin
    )
    return next(i["id"] for i in resp.json()["items"] if i["slug"] == slug)


async def test_reads_are_served_from_the_cache(cache_backend_catalog):
    """Guards the other tests: an out-of-band DB change stays invisible until invalidation."""
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    before = await _warm(catalog, "/api/v1/products/ruby-matte")
    async with catalog.app.state.db.connect(write=True) as conn:
        await conn.execute(
            update(variants).where(variants.c.sku == "RUBY-MATTE-0").values(price_minor=1)
        )
        await conn.execute(update(brands).values(name="Renamed Behind Our Back"))
    assert (await catalog.client.get("/api/v1/products/ruby-matte")).json() == before
    await catalog.app.state.cache.invalidate()
    after = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert after["variants"][0]["price"]["amount_minor"] == 1


async def test_no_stale_read_after_admin_writes(cache_backend_catalog):
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    pid = await _pid(catalog, "ruby-matte")
    list_params = {"category": "lips", "sort": "price_asc"}

    # variant price change: detail, list and price filter
    await _warm(catalog, "/api/v1/products/ruby-matte")
    await _warm(catalog, "/api/v1/products", list_params)
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}/variants/RUBY-MATTE-0",
        json={"price_minor": 999},
        headers=catalog.admin,
    )
    assert resp.status_code == 200
    detail = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert detail["variants"][0]["price"]["amount_minor"] == 999
    page = (await catalog.client.get("/api/v1/products", params=list_params)).json()
    assert page["items"][0]["slug"] == "ruby-matte"
    assert page["items"][0]["price"]["amount_minor"] == 999

    # product rename
    await _warm(catalog, "/api/v1/products", list_params)
    await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"name": "Ruby Woo"}, headers=catalog.admin
    )
    page = (await catalog.client.get("/api/v1/products", params=list_params)).json()
    assert "Ruby Woo" in [i["name"] for i in page["items"]]

    # brand rename shows in brands, list and detail
    await _warm(catalog, "/api/v1/brands")
    brand_id = next(
        b["id"]
        for b in (await catalog.client.get("/api/v1/admin/brands", headers=catalog.admin)).json()[
            "items"
        ]
        if b["slug"] == "atelier-rouge"
    )
    await catalog.client.patch(
        f"/api/v1/admin/brands/{brand_id}", json={"name": "Atelier Noir"}, headers=catalog.admin
    )
    names = [b["name"] for b in (await catalog.client.get("/api/v1/brands")).json()["items"]]
    assert "Atelier Noir" in names and "Atelier Rouge" not in names
    detail = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert detail["brand"]["name"] == "Atelier Noir"

    # category rename
    await _warm(catalog, "/api/v1/categories")
    cats = (await catalog.client.get("/api/v1/admin/categories", headers=catalog.admin)).json()
    lips = next(c["id"] for c in cats["items"] if c["slug"] == "lips")
    await catalog.client.patch(
        f"/api/v1/admin/categories/{lips}", json={"name": "Lip Colour"}, headers=catalog.admin
    )
    tree = (await catalog.client.get("/api/v1/categories")).json()["items"]
    assert tree[0]["children"][0]["name"] == "Lip Colour"

    # a new product appears, an archived one disappears (list and detail)
    await _warm(catalog, "/api/v1/products", {"q": "gloss"})
    resp = await catalog.client.post(
        "/api/v1/admin/products",
        json={
            "name": "Mirror Gloss",
            "brand_id": brand_id,
            "category_id": lips,
            "status": "active",
            "variants": [{"sku": "MIRROR-1", "name": "Clear", "price_minor": 1200}],
        },
        headers=catalog.admin,
    )
    assert resp.status_code == 201
    slugs = {
        i["slug"]
        for i in (await catalog.client.get("/api/v1/products", params={"q": "gloss"})).json()[
            "items"
        ]
    }
    assert resp.json()["slug"] in slugs
    await catalog.client.delete(f"/api/v1/admin/products/{pid}", headers=catalog.admin)
    assert (await catalog.client.get("/api/v1/products/ruby-matte")).status_code == 404
    page = (await catalog.client.get("/api/v1/products", params=list_params)).json()
    assert "ruby-matte" not in {i["slug"] for i in page["items"]}


async def test_etag_changes_after_an_admin_write(cache_backend_catalog):
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    pid = await _pid(catalog, "nude-satin")
    etag = (await catalog.client.get("/api/v1/products/nude-satin")).headers["etag"]
    await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"description": "New words."}, headers=catalog.admin
    )
    resp = await catalog.client.get("/api/v1/products/nude-satin", headers={"If-None-Match": etag})
    assert resp.status_code == 200 and resp.headers["etag"] != etag
    assert resp.json()["description"] == "New words."


async def test_failed_admin_write_changes_nothing(cache_backend_catalog):
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    pid = await _pid(catalog, "nude-satin")
    before = await _warm(catalog, "/api/v1/products/nude-satin")
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}",
        json={"description": "x", "brand_id": 424242},
        headers=catalog.admin,
    )
    assert resp.status_code == 422
    await catalog.app.state.cache.invalidate()
    assert (await catalog.client.get("/api/v1/products/nude-satin")).json() == before
