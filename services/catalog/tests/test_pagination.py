"""Cursor pagination stays exact while products are being added between page requests."""

from __future__ import annotations

from collections import Counter

import pytest
from vanity_catalog.domain import fold

from .conftest import LISTED, small_catalog


async def _ids(catalog):
    brands = (await catalog.client.get("/api/v1/admin/brands", headers=catalog.admin)).json()
    cats = (await catalog.client.get("/api/v1/admin/categories", headers=catalog.admin)).json()
    return brands["items"][0]["id"], cats["items"][-1]["id"]


@pytest.mark.parametrize("sort", ["newest", "price_asc", "price_desc", "name"])
async def test_no_item_twice_none_skipped_under_concurrent_inserts(catalog, sort):
    await catalog.load(small_catalog())
    brand_id, category_id = await _ids(catalog)
    seen: list[dict] = []
    cursor = None
    inserted = 0
    # Prices and names spread over the whole range, so inserts land before, at and after the
    # cursor position of every sort (same price as existing rows included: ties on the key).
    prices = [100, 2400, 9900, 2200, 5200, 1500, 3100, 2000, 7000, 2500]
    names = ["Aaa First", "Zzz Last", "Nude Satin Lipstick", "Mmm Middle", "Balm Stick"]
    for page_number in range(100):
        params = {"sort": sort, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await catalog.client.get("/api/v1/products", params=params)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        for k in range(2):  # two inserts between every two pages
            n = page_number * 2 + k
            resp = await catalog.client.post(
                "/api/v1/admin/products",
                json={
                    "slug": f"inserted-{n}",
                    "name": names[n % len(names)],
                    "brand_id": brand_id,
                    "category_id": category_id,
                    "status": "active",
                    "variants": [
                        {"sku": f"INS-{n}", "name": "x", "price_minor": prices[n % len(prices)]}
                    ],
                },
                headers=catalog.admin,
            )
            assert resp.status_code == 201, resp.text
            inserted += 1
    assert inserted >= 6
    slugs = [i["slug"] for i in seen]
    duplicates = [s for s, c in Counter(slugs).items() if c > 1]
    assert duplicates == []
    assert set(slugs) >= LISTED  # every product that existed at the start, exactly once
    # and the walk is in order
    if sort == "newest":
        keys = [i["created_at"] for i in seen]
        assert keys == sorted(keys, reverse=True)
    elif sort == "name":
        keys = [fold(i["name"]) for i in seen]
        assert keys == sorted(keys)
    else:
        keys = [i["price"]["amount_minor"] for i in seen]
        assert keys == sorted(keys, reverse=sort == "price_desc")
