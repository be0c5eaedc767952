"""Every number a client can send, including those inside the opaque cursor, is bounded: out
of a 64-bit column's range it is a 422 naming the field, never a driver OverflowError (a 500).
Issue 16, finding 3; and finding 4: no trailing-slash redirect to the service's own address."""

from __future__ import annotations

import base64

import orjson
import pytest

MAX_BIGINT = 2**63 - 1


def crafted_cursor(sort: str, key, row_id) -> str:
    raw = orjson.dumps({"s": sort, "k": key, "i": row_id})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def big_json_cursor(sort: str, key: str, row_id: str) -> str:
    # orjson cannot write integers above 64 bits: an attacker writes the JSON by hand.
    raw = f'{{"s":"{sort}","k":{key},"i":{row_id}}}'.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fields(response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_price", "1000000000000000000000000000000"),
        ("max_price", str(MAX_BIGINT + 1)),
        ("min_price", "-1"),
    ],
)
async def test_out_of_range_price_filters_are_422(catalog, name, value):
    response = await catalog.client.get("/api/v1/products", params={name: value})
    assert response.status_code == 422, response.text
    assert fields(response) == [name]


async def test_the_largest_price_filter_is_answered(catalog):
    response = await catalog.client.get("/api/v1/products", params={"max_price": MAX_BIGINT})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("sort", "key", "row_id"),
    [
        ("newest", "1", str(2**70)),  # the id of the report
        ("price_asc", str(2**70), "1"),  # the sort key
        ("price_desc", str(-(2**70)), "1"),
        ("name", '"a"', str(2**63)),
        ("newest", "1", "0"),
        ("newest", "1", "1.5"),
        ("newest", "1", '"7"'),
        ("newest", "1e400", "1"),
        ("price_asc", "true", "1"),
    ],
)
async def test_a_cursor_with_out_of_range_numbers_is_422(catalog, sort, key, row_id):
    cursor = big_json_cursor(sort, key, row_id)
    response = await catalog.client.get("/api/v1/products", params={"sort": sort, "cursor": cursor})
    assert response.status_code == 422, response.text
    assert fields(response) == ["cursor"]


async def test_a_cursor_at_the_bounds_is_answered(catalog):
    cursor = crafted_cursor("price_asc", MAX_BIGINT, MAX_BIGINT)
    response = await catalog.client.get(
        "/api/v1/products", params={"sort": "price_asc", "cursor": cursor}
    )
    assert response.status_code == 200, response.text


async def test_an_out_of_range_audit_position_is_422(catalog):
    response = await catalog.client.get(
        "/api/v1/admin/audit", params={"before": str(2**63)}, headers=catalog.admin
    )
    assert response.status_code == 422 and fields(response) == ["before"]


async def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_services_address(catalog):
    response = await catalog.client.get("/api/v1/products/", follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
