"""Admin API: authorization, validation with field errors, writes, invariants and the audit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from vanity_catalog.tables import admin_audit

from .conftest import small_catalog

ADMIN_ROUTES = [
    ("GET", "/api/v1/admin/products"),
    ("POST", "/api/v1/admin/products"),
    ("GET", "/api/v1/admin/products/1"),
    ("PATCH", "/api/v1/admin/products/1"),
    ("DELETE", "/api/v1/admin/products/1"),
    ("POST", "/api/v1/admin/products/1/variants"),
    ("PATCH", "/api/v1/admin/products/1/variants/RUBY-MATTE-0"),
    ("DELETE", "/api/v1/admin/products/1/variants/RUBY-MATTE-0"),
    ("GET", "/api/v1/admin/brands"),
    ("POST", "/api/v1/admin/brands"),
    ("PATCH", "/api/v1/admin/brands/1"),
    ("DELETE", "/api/v1/admin/brands/1"),
    ("GET", "/api/v1/admin/categories"),
    ("POST", "/api/v1/admin/categories"),
    ("PATCH", "/api/v1/admin/categories/1"),
    ("DELETE", "/api/v1/admin/categories/1"),
    ("GET", "/api/v1/admin/audit"),
]


async def _audit_count(catalog) -> int:
    async with catalog.app.state.container.db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(admin_audit)))


async def test_admin_routes_need_an_admin_with_catalog_permission(sqlite_catalog):
    catalog = sqlite_catalog
    await catalog.load(small_catalog())
    before = await _audit_count(catalog)
    minter = catalog.minter
    for method, path in ADMIN_ROUTES:
        body = {} if method in ("POST", "PATCH") else None
        resp = await catalog.client.request(method, path, json=body)
        assert resp.status_code == 401, (method, path, resp.text)
        assert resp.headers["content-type"].startswith("application/problem+json")
        resp = await catalog.client.request(method, path, json=body, headers=catalog.customer)
        assert resp.status_code == 403, (method, path, resp.text)
        wrong_perm = minter.headers(minter.admin(perms=("inventory",)))
        resp = await catalog.client.request(method, path, json=body, headers=wrong_perm)
        assert resp.status_code == 403, (method, path)
        bad = {"Authorization": "Bearer not.a.jwt"}
        resp = await catalog.client.request(method, path, json=body, headers=bad)
        assert resp.status_code == 401
    # nothing was written by any refused request
    assert await _audit_count(catalog) == before
    detail = await catalog.client.get("/api/v1/products/ruby-matte")
    assert detail.status_code == 200


async def _ids(catalog):
    brands = (await catalog.client.get("/api/v1/admin/brands", headers=catalog.admin)).json()
    cats = (await catalog.client.get("/api/v1/admin/categories", headers=catalog.admin)).json()
    return (
        {b["slug"]: b["id"] for b in brands["items"]},
        {c["slug"]: c["id"] for c in cats["items"]},
    )


def _new_product(brand_id, category_id, **over):
    body = {
        "name": "Cherry Bomb Lip Oil",
        "brand_id": brand_id,
        "category_id": category_id,
        "description": "Juicy cherry tint.",
        "images": ["https://cdn.example/cherry.jpg"],
        "attributes": {"finish": "gloss", "ingredients": ["Jojoba Oil"], "vegan": True},
        "tags": ["new", "vegan"],
        "status": "active",
        "variants": [
            {"sku": "ARG-OIL-01", "name": "Cherry", "shade_hex": "#a4161a", "price_minor": 1900},
            {"sku": "ARG-OIL-02", "name": "Clear", "price_minor": 1700, "active": False},
        ],
    }
    body.update(over)
    return body


async def test_create_product_and_read_it_publicly_with_an_audit_row(catalog):
    await catalog.load(small_catalog())
    brands, cats = await _ids(catalog)
    resp = await catalog.client.post(
        "/api/v1/admin/products",
        json=_new_product(brands["atelier-rouge"], cats["lip-gloss"]),
        headers=catalog.minter.headers(
            catalog.minter.admin(user_id="admin-42", perms=("catalog",))
        ),
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["slug"] == "atelier-rouge-cherry-bomb-lip-oil"
    assert created["status"] == "active"
    assert created["price"] == {"amount_minor": 1900, "currency": "EUR"}  # inactive 1700 ignored
    assert created["variants"][0]["shade_hex"] == "#A4161A"
    public = await catalog.client.get(f"/api/v1/products/{created['slug']}")
    assert public.status_code == 200 and [v["sku"] for v in public.json()["variants"]] == [
        "ARG-OIL-01"
    ]
    listed = await catalog.client.get("/api/v1/products", params={"tag": "new", "q": "cherry"})
    assert [i["slug"] for i in listed.json()["items"]] == [created["slug"]]
    audit = (
        await catalog.client.get(
            "/api/v1/admin/audit",
            params={"entity": "product", "entity_id": str(created["id"])},
            headers=catalog.admin,
        )
    ).json()["items"]
    assert len(audit) == 1
    assert audit[0]["actor"] == "admin-42" and audit[0]["action"] == "product.create"
    assert audit[0]["changes"]["name"] == "Cherry Bomb Lip Oil" and audit[0]["at"].endswith("Z")


@pytest.mark.parametrize(
    ("patch", "fields"),
    [
        ({"name": ""}, {"name"}),
        ({"name": None}, {"name"}),
        ({"brand_id": "x"}, {"brand_id"}),
        ({"slug": "Not A Slug"}, {"slug"}),
        ({"status": "deleted"}, {"status"}),
        ({"images": ["ftp://nope"]}, {"images[0]"}),
        ({"attributes": {"finish": "sparkly"}}, {"attributes.finish"}),
        ({"attributes": {"colour": "red"}}, {"attributes.colour"}),
        ({"tags": ["ok", "ok"]}, {"tags"}),
        ({"unknown": 1}, {"unknown"}),
        ({"variants": [{"sku": "lower-case", "name": "x", "price_minor": 1}]}, {"variants[0].sku"}),
        (
            {"variants": [{"sku": "ABC-1", "name": "x", "price_minor": -5}]},
            {"variants[0].price_minor"},
        ),
        (
            {"variants": [{"sku": "ABC-1", "name": "x", "price_minor": 12.5}]},
            {"variants[0].price_minor"},
        ),
        (
            {"variants": [{"sku": "ABC-1", "name": "x", "price_minor": 1, "shade_hex": "red"}]},
            {"variants[0].shade_hex"},
        ),
        # rules checked by the service layer, reported the same way
        ({"brand_id": 9999}, {"brand_id"}),
        ({"category_id": 9999}, {"category_id"}),
        (
            {"variants": [{"sku": "ABC-1", "name": "x", "price_minor": 1, "currency": "USD"}]},
            {"variants[0].currency"},
        ),
        (
            {
                "variants": [
                    {"sku": "ABC-1", "name": "x", "price_minor": 1},
                    {"sku": "ABC-1", "name": "y", "price_minor": 2},
                ]
            },
            {"variants[1].sku"},
        ),
        ({"status": "active", "variants": []}, {"status"}),
    ],
)
async def test_create_product_validation_names_the_field(catalog, patch, fields):
    await catalog.load(small_catalog())
    brands, cats = await _ids(catalog)
    before = await _audit_count(catalog)
    body = {**_new_product(brands["atelier-rouge"], cats["lip-gloss"]), **patch}
    resp = await catalog.client.post("/api/v1/admin/products", json=body, headers=catalog.admin)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in resp.json()["errors"]} >= fields, resp.json()
    assert await _audit_count(catalog) == before  # no partial write
    listed = await catalog.client.get("/api/v1/products", params={"q": "cherry"})
    assert listed.json()["items"] == []


async def test_unique_slug_and_sku(catalog):
    await catalog.load(small_catalog())
    brands, cats = await _ids(catalog)
    resp = await catalog.client.post(
        "/api/v1/admin/products",
        json=_new_product(brands["atelier-rouge"], cats["lip-gloss"], slug="ruby-matte"),
        headers=catalog.admin,
    )
    assert resp.status_code == 409 and resp.json()["reason"] == "SLUG_TAKEN"
    assert resp.json()["errors"] == [{"field": "slug", "message": "already used"}]
    variants = [
        {"sku": "NEW-1", "name": "a", "price_minor": 5},
        {"sku": "RUBY-MATTE-0", "name": "b", "price_minor": 5},
    ]
    resp = await catalog.client.post(
        "/api/v1/admin/products",
        json=_new_product(brands["atelier-rouge"], cats["lip-gloss"], variants=variants),
        headers=catalog.admin,
    )
    assert resp.status_code == 409 and resp.json()["reason"] == "SKU_TAKEN"
    assert resp.json()["errors"][0]["field"] == "variants[1].sku"
    # nothing of the refused product exists, not even its free SKU
    _, unknown = await catalog.app.state.container.browse.get_variants(["NEW-1"])
    assert unknown == ["NEW-1"]
    pid = await _product_id(catalog, "nude-satin")
    resp = await catalog.client.post(
        f"/api/v1/admin/products/{pid}/variants",
        json={"sku": "RUBY-MATTE-1", "name": "dup", "price_minor": 100},
        headers=catalog.admin,
    )
    assert resp.status_code == 409 and resp.json()["errors"][0]["field"] == "sku"
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"slug": "ruby-matte"}, headers=catalog.admin
    )
    assert resp.status_code == 409


async def _product_id(catalog, slug: str) -> int:
    resp = await catalog.client.get(
        "/api/v1/admin/products", params={"limit": 100}, headers=catalog.admin
    )
    return next(i["id"] for i in resp.json()["items"] if i["slug"] == slug)


async def test_update_archive_and_variant_writes_keep_the_listed_price(catalog):
    await catalog.load(small_catalog())
    pid = await _product_id(catalog, "ruby-matte")
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}",
        json={"name": "Ruby Velvet Lipstick", "tags": ["gift"]},
        headers=catalog.admin,
    )
    assert resp.status_code == 200 and resp.json()["name"] == "Ruby Velvet Lipstick"
    listed = await catalog.client.get("/api/v1/products", params={"tag": "gift"})
    assert [i["slug"] for i in listed.json()["items"]] == ["ruby-matte"]
    assert (
        await catalog.client.get("/api/v1/products", params={"tag": "bestseller", "q": "ruby"})
    ).json()["items"] == []
    # cheaper variant: the from-price and the price filter follow
    resp = await catalog.client.post(
        f"/api/v1/admin/products/{pid}/variants",
        json={"sku": "RUBY-MATTE-MINI", "name": "Mini", "size": "1.5 g", "price_minor": 900},
        headers=catalog.admin,
    )
    assert resp.status_code == 201 and resp.json()["price"]["amount_minor"] == 900
    cheap = await catalog.client.get("/api/v1/products", params={"max_price": 1000})
    assert [i["slug"] for i in cheap.json()["items"]] == ["ruby-matte"]
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}/variants/RUBY-MATTE-MINI",
        json={"price_minor": 3000},
        headers=catalog.admin,
    )
    assert resp.status_code == 200 and resp.json()["price"]["amount_minor"] == 2400
    resp = await catalog.client.delete(
        f"/api/v1/admin/products/{pid}/variants/RUBY-MATTE-0", headers=catalog.admin
    )
    assert resp.status_code == 200 and resp.json()["price"]["amount_minor"] == 2600
    variants = {v["sku"]: v["active"] for v in resp.json()["variants"]}
    assert variants["RUBY-MATTE-0"] is False
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}/variants/NOPE", json={"name": "x"}, headers=catalog.admin
    )
    assert resp.status_code == 404
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}/variants/RUBY-MATTE-1",
        json={"price_minor": None},
        headers=catalog.admin,
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "price_minor"
    # archive: gone from the public API, still readable by admins
    resp = await catalog.client.delete(f"/api/v1/admin/products/{pid}", headers=catalog.admin)
    assert resp.status_code == 200 and resp.json()["status"] == "archived"
    assert (await catalog.client.get("/api/v1/products/ruby-matte")).status_code == 404
    everything = await catalog.all_pages({}, limit=100)
    assert "ruby-matte" not in {i["slug"] for i in everything}
    archived = await catalog.client.get(
        "/api/v1/admin/products", params={"status": "archived"}, headers=catalog.admin
    )
    assert {i["slug"] for i in archived.json()["items"]} == {"ruby-matte", "gone-archived"}
    actions = [
        e["action"]
        for e in (
            await catalog.client.get(
                "/api/v1/admin/audit", params={"limit": 200}, headers=catalog.admin
            )
        ).json()["items"]
    ]
    assert actions[:5] == [
        "product.archive",
        "variant.deactivate",
        "variant.update",
        "variant.create",
        "product.update",
    ]
    assert (
        await catalog.client.patch("/api/v1/admin/products/99999", json={}, headers=catalog.admin)
    ).status_code == 404


async def test_activation_requires_an_active_variant(catalog):
    await catalog.load(small_catalog())
    brands, cats = await _ids(catalog)
    resp = await catalog.client.post(
        "/api/v1/admin/products",
        json=_new_product(brands["nordic-bloom"], cats["serum"], status="draft", variants=[]),
        headers=catalog.admin,
    )
    assert resp.status_code == 201 and resp.json()["price"] is None
    pid = resp.json()["id"]
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"status": "active"}, headers=catalog.admin
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "status"
    await catalog.client.post(
        f"/api/v1/admin/products/{pid}/variants",
        json={"sku": "NB-NEW-1", "name": "30 ml", "price_minor": 4100},
        headers=catalog.admin,
    )
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"status": "active"}, headers=catalog.admin
    )
    assert resp.status_code == 200
    listed = await catalog.client.get("/api/v1/products", params={"q": "cherry bomb"})
    assert [i["price"]["amount_minor"] for i in listed.json()["items"]] == [4100]


async def test_the_last_active_variant_of_an_active_product_cannot_be_deactivated(catalog):
    await catalog.load(small_catalog())
    brands, cats = await _ids(catalog)
    resp = await catalog.client.post(
        "/api/v1/admin/products",
        json=_new_product(
            brands["nordic-bloom"],
            cats["serum"],
            status="active",
            variants=[
                {"sku": "NB-LAST-1", "name": "30 ml", "price_minor": 4100},
                {"sku": "NB-LAST-2", "name": "50 ml", "price_minor": 5900},
            ],
        ),
        headers=catalog.admin,
    )
    assert resp.status_code == 201, resp.text
    pid = resp.json()["id"]
    variants = f"/api/v1/admin/products/{pid}/variants"
    resp = await catalog.client.delete(f"{variants}/NB-LAST-1", headers=catalog.admin)
    assert resp.status_code == 200  # another variant is still on sale
    audits = await _audit_count(catalog)

    for method, body in (("DELETE", None), ("PATCH", {"active": False})):
        resp = await catalog.client.request(
            method, f"{variants}/NB-LAST-2", json=body, headers=catalog.admin
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"] == [
            {"field": "active", "message": "an active product needs an active variant"}
        ]
    assert await _audit_count(catalog) == audits  # nothing written
    listed = await catalog.client.get("/api/v1/products", params={"q": "cherry bomb"})
    assert [i["price"]["amount_minor"] for i in listed.json()["items"]] == [5900]

    # A draft product may have no variant on sale.
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}", json={"status": "draft"}, headers=catalog.admin
    )
    assert resp.status_code == 200
    resp = await catalog.client.delete(f"{variants}/NB-LAST-2", headers=catalog.admin)
    assert resp.status_code == 200
    assert [v["active"] for v in resp.json()["variants"]] == [False, False]


async def test_brand_admin(catalog):
    await catalog.load(small_catalog())
    resp = await catalog.client.post(
        "/api/v1/admin/brands", json={"name": "Maison Lumière"}, headers=catalog.admin
    )
    assert resp.status_code == 201 and resp.json()["slug"] == "maison-lumiere"
    new_id = resp.json()["id"]
    resp = await catalog.client.post(
        "/api/v1/admin/brands",
        json={"name": "Other", "slug": "maison-lumiere"},
        headers=catalog.admin,
    )
    assert resp.status_code == 409 and resp.json()["errors"][0]["field"] == "slug"
    resp = await catalog.client.post("/api/v1/admin/brands", json={}, headers=catalog.admin)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "name"
    brands, _ = await _ids(catalog)
    # renaming a brand re-indexes its products for the text query
    resp = await catalog.client.patch(
        f"/api/v1/admin/brands/{brands['blackbird-noir']}",
        json={"name": "Raven Studio"},
        headers=catalog.admin,
    )
    assert resp.status_code == 200
    found = await catalog.client.get("/api/v1/products", params={"q": "raven"})
    assert {i["slug"] for i in found.json()["items"]} == {"volume-mascara", "length-mascara"}
    assert (await catalog.client.get("/api/v1/products", params={"q": "blackbird"})).json()[
        "items"
    ] == []
    resp = await catalog.client.delete(
        f"/api/v1/admin/brands/{brands['blackbird-noir']}", headers=catalog.admin
    )
    assert resp.status_code == 409 and resp.json()["reason"] == "BRAND_IN_USE"
    resp = await catalog.client.delete(f"/api/v1/admin/brands/{new_id}", headers=catalog.admin)
    assert resp.status_code == 204
    assert (
        await catalog.client.delete(f"/api/v1/admin/brands/{new_id}", headers=catalog.admin)
    ).status_code == 404


async def test_category_admin(catalog):
    await catalog.load(small_catalog())
    _, cats = await _ids(catalog)
    resp = await catalog.client.post(
        "/api/v1/admin/categories",
        json={"name": "Liquid Lipstick", "parent_id": cats["lipstick"]},
        headers=catalog.admin,
    )
    assert resp.status_code == 201 and resp.json()["depth"] == 4
    liquid = resp.json()["id"]
    resp = await catalog.client.post(
        "/api/v1/admin/categories", json={"name": "X", "parent_id": 99999}, headers=catalog.admin
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "parent_id"
    # a category cannot move under its own descendant
    resp = await catalog.client.patch(
        f"/api/v1/admin/categories/{cats['lips']}",
        json={"parent_id": liquid},
        headers=catalog.admin,
    )
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "parent_id"
    # move "lips" (with its sub-tree) under skincare: filters and breadcrumbs follow
    resp = await catalog.client.patch(
        f"/api/v1/admin/categories/{cats['lips']}",
        json={"parent_id": cats["skincare"]},
        headers=catalog.admin,
    )
    assert resp.status_code == 200, resp.text
    skincare = await catalog.all_pages({"category": "skincare"}, limit=100)
    assert {"ruby-matte", "creme-gloss"} <= {i["slug"] for i in skincare}
    makeup = await catalog.all_pages({"category": "makeup"}, limit=100)
    assert "ruby-matte" not in {i["slug"] for i in makeup}
    detail = (await catalog.client.get("/api/v1/products/ruby-matte")).json()
    assert [c["slug"] for c in detail["breadcrumb"]] == ["skincare", "lips", "lipstick"]
    tree = (await catalog.client.get("/api/v1/categories")).json()["items"]
    skin = next(c for c in tree if c["slug"] == "skincare")
    assert {c["slug"] for c in skin["children"]} == {"treatments", "lips"}
    moved = next(c for c in skin["children"] if c["slug"] == "lips")
    assert moved["depth"] == 2 and moved["children"][0]["children"][0]["depth"] == 4
    # deleting: not while it has children or products
    resp = await catalog.client.delete(
        f"/api/v1/admin/categories/{cats['lips']}", headers=catalog.admin
    )
    assert resp.status_code == 409 and resp.json()["reason"] == "CATEGORY_HAS_CHILDREN"
    resp = await catalog.client.delete(
        f"/api/v1/admin/categories/{cats['mascara']}", headers=catalog.admin
    )
    assert resp.status_code == 409 and resp.json()["reason"] == "CATEGORY_IN_USE"
    resp = await catalog.client.delete(f"/api/v1/admin/categories/{liquid}", headers=catalog.admin)
    assert resp.status_code == 204
