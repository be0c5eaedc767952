"""Names and descriptions with NUL or other control characters are a 422 naming the field and
write nothing (issue 16, finding 8); a description keeps its line breaks."""

from __future__ import annotations

import pytest

PRODUCT = {
    "name": "Velvet Balm",
    "brand_id": 1,
    "category_id": 1,
    "status": "draft",
    "variants": [{"sku": "VELVET-1", "name": "30 ml", "price_minor": 1000, "currency": "EUR"}],
}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Velvet\x00Balm"}, "name"),
        ({"description": "Soft.\x1b[2J"}, "description"),
        ({"attributes": {"ingredients": ["shea\x07butter"]}}, "attributes.ingredients[0]"),
        (
            {"variants": [{**PRODUCT["variants"][0], "name": "30\x00ml"}]},
            "variants[0].name",
        ),
    ],
)
async def test_control_characters_are_422_and_write_nothing(sqlite_catalog, changes, field):
    response = await sqlite_catalog.client.post(
        "/api/v1/admin/products", headers=sqlite_catalog.admin, json={**PRODUCT, **changes}
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    listed = await sqlite_catalog.client.get("/api/v1/admin/products", headers=sqlite_catalog.admin)
    assert all(p["name"] != "Velvet Balm" for p in listed.json()["items"])


async def test_a_brand_description_keeps_its_line_breaks(sqlite_catalog):
    response = await sqlite_catalog.client.post(
        "/api/v1/admin/brands",
        headers=sqlite_catalog.admin,
        json={"name": "Lumen", "description": "Clean beauty.\nMade in Lyon.\tSince 1990."},
    )
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "Clean beauty.\nMade in Lyon.\tSince 1990."
