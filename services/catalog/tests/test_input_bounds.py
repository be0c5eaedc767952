"""Ids a 64-bit column cannot hold are a 422 naming the field, not a driver crash (found by
fuzzing the OpenAPI document with schemathesis)."""

import pytest

TOO_BIG = 2**63  # one past the largest BIGINT


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/admin/products/{TOO_BIG}"),
        ("DELETE", f"/api/v1/admin/products/{TOO_BIG}"),
        ("DELETE", f"/api/v1/admin/brands/{TOO_BIG}"),
        ("DELETE", f"/api/v1/admin/categories/{TOO_BIG}"),
    ],
)
async def test_oversized_path_ids_are_422(sqlite_catalog, method, path):
    response = await sqlite_catalog.client.request(method, path, headers=sqlite_catalog.admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith("_id")


async def test_oversized_body_ids_are_422_and_write_nothing(sqlite_catalog):
    response = await sqlite_catalog.client.post(
        "/api/v1/admin/products",
        headers=sqlite_catalog.admin,
        json={
            "name": "Overflow Balm",
            "brand_id": TOO_BIG,
            "category_id": 1,
            "status": "active",
            "variants": [
                {"sku": "OVER-1", "name": "30 ml", "price_minor": 1000, "currency": "EUR"}
            ],
        },
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"brand_id"}
    missing = await sqlite_catalog.client.get(
        "/api/v1/admin/products", headers=sqlite_catalog.admin
    )
    assert all(p["name"] != "Overflow Balm" for p in missing.json()["items"])
