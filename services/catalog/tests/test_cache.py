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
    async with catalog.app.state.container.db.connect(write=True) as conn:
        await conn.execute(
            update(variants).where(variants.c.sku == "RUBY-MATTE-0").values(price_minor=1)
        )
        await conn.execute(update(brands).values(name="Renamed Behind Our Back"))
    assert (await catalog.client.get("/api/v1/products/ruby-matte")).json() == before
    await catalog.app.state.container.cache.invalidate()
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
    await catalog.app.state.container.cache.invalidate()
    assert (await catalog.client.get("/api/v1/products/nude-satin")).json() == before


# ---- the hit path (answered before parameter parsing; the fill keeps the full validation) ----


def _count_selects(catalog):
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = catalog.app.state.container.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    return statements, lambda: event.remove(engine, "before_cursor_execute", count)


async def test_hits_skip_the_database_and_keep_body_and_etag(cache_backend_catalog):
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    paths = [
        "/api/v1/products?category=lips&sort=price_asc",
        "/api/v1/products",
        "/api/v1/products/ruby-matte",
        "/api/v1/brands",
        "/api/v1/categories",
    ]
    first = {p: await catalog.client.get(p) for p in paths}
    statements, stop = _count_selects(catalog)
    try:
        for _ in range(3):
            for path in paths:
                resp = await catalog.client.get(path)
                assert resp.status_code == 200
                assert resp.content == first[path].content
                assert resp.headers["etag"] == first[path].headers["etag"]
                assert resp.headers["cache-control"] == first[path].headers["cache-control"]
                assert resp.headers["content-type"] == "application/json"
                # revalidation is answered on the hit path too
                again = await catalog.client.get(
                    path, headers={"If-None-Match": resp.headers["etag"]}
                )
                assert again.status_code == 304 and again.content == b""
                assert again.headers["etag"] == resp.headers["etag"]
                listed = f'"nope", {resp.headers["etag"]}'
                other = await catalog.client.get(path, headers={"If-None-Match": listed})
                assert other.status_code == 304
                star = await catalog.client.get(path, headers={"If-None-Match": "*"})
                assert star.status_code == 304
                stale = await catalog.client.get(path, headers={"If-None-Match": '"nope"'})
                assert stale.status_code == 200 and stale.content == resp.content
    finally:
        stop()
    assert statements == []


async def test_etag_is_the_hash_of_the_body_on_hits(cache_backend_catalog):
    import hashlib

    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    for _ in range(2):  # the fill, then a hit
        resp = await catalog.client.get("/api/v1/products", params={"limit": 3})
        digest = hashlib.blake2b(resp.content, digest_size=12).hexdigest()
        assert resp.headers["etag"] == f'"{digest}"'


async def test_invalid_queries_are_422_even_next_to_cached_ones(cache_backend_catalog):
    """Only a query string that passed validation ever has an entry: invalid ones always reach
    the validating handler, however often they are sent and whatever is cached."""
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    assert (await catalog.client.get("/api/v1/products?limit=5")).status_code == 200
    for _ in range(2):
        for query, field in (
            ("limit=0", "limit"),
            ("limit=5&limit=101", "limit"),
            ("limit=abc", "limit"),
            ("sort=bogus", "sort"),
            ("min_price=-1", "min_price"),
            ("min_price=500&max_price=100", "max_price"),
            ("cursor=not-a-cursor!!", "cursor"),
        ):
            resp = await catalog.client.get(f"/api/v1/products?{query}")
            assert resp.status_code == 422, (query, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert field in {e["field"] for e in resp.json()["errors"]}
        assert (await catalog.client.get("/api/v1/products/No_Such!")).status_code == 404


async def test_hit_key_follows_the_query_string_exactly(cache_backend_catalog):
    """A repeated scalar parameter: the last value wins, on the fill and on the hit."""
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    for _ in range(2):
        one = (await catalog.client.get("/api/v1/products?limit=2&limit=1")).json()
        two = (await catalog.client.get("/api/v1/products?limit=1&limit=2")).json()
        assert (one["limit"], len(one["items"])) == (1, 1)
        assert (two["limit"], len(two["items"])) == (2, 2)
    # equivalent spellings are separate entries with the same answer
    a = await catalog.client.get("/api/v1/products?brand=Atelier-Rouge&sort=name")
    b = await catalog.client.get("/api/v1/products?sort=name&brand=atelier-rouge")
    assert a.status_code == b.status_code == 200
    assert a.content == b.content and a.headers["etag"] == b.headers["etag"]


async def test_hit_path_sees_invalidation(cache_backend_catalog):
    catalog = cache_backend_catalog
    await catalog.load(small_catalog())
    pid = await _pid(catalog, "ruby-matte")
    query = "/api/v1/products?category=lips&sort=price_asc&limit=5"
    before = await catalog.client.get(query)
    assert (await catalog.client.get(query)).content == before.content  # a hit
    resp = await catalog.client.patch(
        f"/api/v1/admin/products/{pid}/variants/RUBY-MATTE-0",
        json={"price_minor": 1},
        headers=catalog.admin,
    )
    assert resp.status_code == 200
    after = await catalog.client.get(query)
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["items"][0]["price"]["amount_minor"] == 1
    # the old ETag no longer revalidates
    resp = await catalog.client.get(query, headers={"If-None-Match": before.headers["etag"]})
    assert resp.status_code == 200 and resp.content == after.content
