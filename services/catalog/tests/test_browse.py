"""Public browse API: every filter and sort, cursors, detail, brands, categories, HTTP caching."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from .conftest import LISTED, small_catalog


def _slugs(items) -> list[str]:
    return [i["slug"] for i in items]


def _expected(sort: str) -> list[str]:
    data = small_catalog()
    rows = []
    for p in data["products"]:
        if p["status"] != "active":
            continue
        price = min(v["price_minor"] for v in p["variants"] if v["active"])
        rows.append((p, price))
    # ids follow insertion order, which is the file order
    ids = {p["slug"]: i for i, p in enumerate(data["products"])}
    if sort == "newest":
        rows.sort(key=lambda r: (r[0]["created_at"], ids[r[0]["slug"]]), reverse=True)
    elif sort == "price_asc":
        rows.sort(key=lambda r: (r[1], ids[r[0]["slug"]]))
    elif sort == "price_desc":
        rows.sort(key=lambda r: (r[1], ids[r[0]["slug"]]), reverse=True)
    else:
        rows.sort(key=lambda r: (r[0]["name"].lower().replace("è", "e"), ids[r[0]["slug"]]))
    return [r[0]["slug"] for r in rows]


async def test_default_list_shows_listed_products_newest_first(catalog):
    await catalog.load(small_catalog())
    resp = await catalog.client.get("/api/v1/products")
    assert resp.status_code == 200
    body = resp.json()
    assert set(_slugs(body["items"])) == LISTED  # no draft, no archived
    assert _slugs(body["items"]) == _expected("newest")
    assert body["next_cursor"] is None and body["limit"] == 24
    ruby = next(i for i in body["items"] if i["slug"] == "ruby-matte")
    assert ruby["price"] == {"amount_minor": 2400, "currency": "EUR"}  # lowest ACTIVE variant
    assert ruby["brand"] == {"slug": "atelier-rouge", "name": "Atelier Rouge"}
    assert ruby["category"] == {"slug": "lipstick", "name": "Lipstick"}
    assert ruby["variant_count"] == 2
    assert ruby["shades"] == [
        {"sku": "RUBY-MATTE-0", "name": "RUBY-MATTE-0", "shade_hex": "#AA0000"}
    ]


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc", "name"])
async def test_sorts(catalog, sort):
    await catalog.load(small_catalog())
    resp = await catalog.client.get("/api/v1/products", params={"sort": sort, "limit": 100})
    assert resp.status_code == 200
    assert _slugs(resp.json()["items"]) == _expected(sort)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"brand": "blackbird-noir"}, {"volume-mascara", "length-mascara"}),
        (
            {"brand": ["blackbird-noir", "nordic-bloom"]},
            {
                "volume-mascara",
                "length-mascara",
                "plump-gloss",
                "vitamin-c",
                "hyaluronic",
                "retinol",
            },
        ),
        ({"brand": "no-such-brand"}, set()),
        ({"category": "lipstick"}, {"ruby-matte", "nude-satin"}),
        ({"category": "lips"}, {"ruby-matte", "nude-satin", "creme-gloss", "plump-gloss"}),
        (
            {"category": "makeup"},
            {"ruby-matte", "nude-satin", "creme-gloss", "plump-gloss", "volume-mascara"}
            | {"length-mascara", "balm-stick"},
        ),
        ({"category": "skincare"}, {"vitamin-c", "hyaluronic", "retinol"}),
        ({"min_price": 2900}, {"volume-mascara", "vitamin-c", "hyaluronic", "retinol"}),
        ({"max_price": 2000}, {"creme-gloss", "plump-gloss", "balm-stick"}),
        ({"min_price": 2200, "max_price": 2500}, {"ruby-matte", "nude-satin", "length-mascara"}),
        ({"q": "serum"}, {"vitamin-c", "hyaluronic", "retinol"}),  # name
        ({"q": "nordic"}, {"plump-gloss", "vitamin-c", "hyaluronic", "retinol"}),  # brand name
        ({"q": "peppermint"}, {"plump-gloss"}),  # description
        ({"q": "CREME"}, {"creme-gloss"}),  # case and accents folded
        ({"q": "crème gloss"}, {"creme-gloss"}),  # every word must match
        ({"q": "plumping"}, {"plump-gloss", "hyaluronic"}),
        ({"q": "100%_"}, set()),  # LIKE wildcards are literal
        ({"tag": "vegan"}, {"ruby-matte", "nude-satin", "hyaluronic", "balm-stick"}),
        ({"tag": ["vegan", "bestseller"]}, {"ruby-matte"}),  # all tags must match
        ({"tag": "long-wear", "brand": "blackbird-noir", "max_price": 2600}, {"length-mascara"}),
        ({"category": "lips", "q": "gloss", "sort": "price_desc"}, {"creme-gloss", "plump-gloss"}),
    ],
)
async def test_filters(catalog, params, expected):
    await catalog.load(small_catalog())
    resp = await catalog.client.get("/api/v1/products", params={**params, "limit": 100})
    assert resp.status_code == 200, resp.text
    assert set(_slugs(resp.json()["items"])) == expected


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc", "name"])
async def test_cursor_pages_concatenate_to_the_full_order(catalog, sort):
    await catalog.load(small_catalog())
    pages = await catalog.all_pages({"sort": sort}, limit=3)
    assert _slugs(pages) == _expected(sort)


async def test_default_and_maximum_page_size(catalog):
    data = small_catalog()
    template = data["products"][0]
    for i in range(30):
        data["products"].append(
            {
                **template,
                "slug": f"extra-{i}",
                "name": f"Extra {i}",
                "variants": [{**template["variants"][0], "sku": f"EXTRA-{i}"}],
            }
        )
    await catalog.load(data)
    resp = await catalog.client.get("/api/v1/products")
    assert len(resp.json()["items"]) == 24 and resp.json()["next_cursor"]
    resp = await catalog.client.get("/api/v1/products", params={"limit": 100})
    assert len(resp.json()["items"]) == 40 and resp.json()["next_cursor"] is None
    for bad in (0, 101):
        resp = await catalog.client.get("/api/v1/products", params={"limit": bad})
        assert resp.status_code == 422
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["errors"][0]["field"] == "limit"


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor!!"},
        {"cursor": "eyJzIjoibmFtZSIsImsiOjEsImkiOjF9"},  # {"s":"name","k":1,"i":1}: wrong key type
        {"sort": "bogus"},
        {"min_price": -1},
        {"min_price": 500, "max_price": 100},
    ],
)
async def test_bad_queries_are_422_naming_the_field(catalog, params):
    resp = await catalog.client.get("/api/v1/products", params=params)
    assert resp.status_code == 422, resp.text
    fields = {e["field"] for e in resp.json()["errors"]}
    assert fields & {"cursor", "sort", "min_price", "max_price"}


async def test_cursor_from_another_sort_is_rejected(catalog):
    await catalog.load(small_catalog())
    first = (await catalog.client.get("/api/v1/products", params={"limit": 2})).json()
    resp = await catalog.client.get(
        "/api/v1/products", params={"limit": 2, "sort": "name", "cursor": first["next_cursor"]}
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "cursor"


async def test_product_detail(catalog):
    await catalog.load(small_catalog())
    resp = await catalog.client.get("/api/v1/products/ruby-matte")
    assert resp.status_code == 200
    body = resp.json()
    assert body["name"] == "Ruby Matte Lipstick"
    assert [v["sku"] for v in body["variants"]] == ["RUBY-MATTE-0", "RUBY-MATTE-1"]  # active only
    assert body["variants"][1]["price"] == {"amount_minor": 2600, "currency": "EUR"}
    assert body["breadcrumb"] == [
        {"slug": "makeup", "name": "Makeup"},
        {"slug": "lips", "name": "Lips"},
        {"slug": "lipstick", "name": "Lipstick"},
    ]
    assert body["price"]["amount_minor"] == 2400
    for slug in ("no-such-product", "secret-draft", "gone-archived"):
        resp = await catalog.client.get(f"/api/v1/products/{slug}")
        assert resp.status_code == 404
        assert resp.json()["reason"] == "PRODUCT_NOT_FOUND"


async def test_brands_and_category_tree(catalog):
    await catalog.load(small_catalog())
    brands = (await catalog.client.get("/api/v1/brands")).json()["items"]
    assert [b["slug"] for b in brands] == ["atelier-rouge", "blackbird-noir", "nordic-bloom"]
    assert {b["slug"]: b["product_count"] for b in brands} == {
        "atelier-rouge": 4,
        "blackbird-noir": 2,
        "nordic-bloom": 4,
    }
    tree = (await catalog.client.get("/api/v1/categories")).json()["items"]
    assert [c["slug"] for c in tree] == ["makeup", "skincare"]
    lips = tree[0]["children"][0]
    assert lips["slug"] == "lips" and lips["depth"] == 2
    assert [c["slug"] for c in lips["children"]] == ["lipstick", "lip-gloss"]
    assert lips["children"][0]["depth"] == 3


@pytest.mark.parametrize(
    "path",
    ["/api/v1/products", "/api/v1/products/ruby-matte", "/api/v1/brands", "/api/v1/categories"],
)
async def test_etag_and_cache_control(catalog, path):
    await catalog.load(small_catalog())
    resp = await catalog.client.get(path)
    etag = resp.headers["etag"]
    assert etag.startswith('"') and resp.headers["cache-control"] == "public, no-cache"
    again = await catalog.client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = await catalog.client.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


async def test_list_page_uses_a_bounded_number_of_queries(uncached_catalog):
    catalog = uncached_catalog
    data = small_catalog()
    template = data["products"][0]
    for i in range(120):
        data["products"].append(
            {
                **template,
                "slug": f"bulk-{i}",
                "name": f"Bulk {i}",
                "variants": [
                    {**template["variants"][0], "sku": f"BULK-{i}-A"},
                    {**template["variants"][0], "sku": f"BULK-{i}-B", "price_minor": 9000},
                ],
            }
        )
    await catalog.load(data)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = catalog.app.state.container.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = {}
        for limit in (1, 10, 100):
            statements.clear()
            for params in (
                {"limit": limit},
                {"limit": limit, "category": "makeup", "tag": ["vegan", "bestseller"], "q": "red"},
                {"limit": limit, "sort": "price_desc", "brand": ["atelier-rouge"]},
            ):
                resp = await catalog.client.get("/api/v1/products", params=params)
                assert resp.status_code == 200
            counts[limit] = len(statements)
            if limit == 100:
                assert len(resp.json()["items"]) == 100
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts[1] == counts[10] == counts[100] == 6  # two statements per page, any size
