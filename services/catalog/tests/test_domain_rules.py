"""The admin rules in domain.py, without a database: what the use cases apply."""

from __future__ import annotations

import pytest
from vanity_catalog.domain import (
    NEEDS_ACTIVE_VARIANT,
    Cursor,
    CursorError,
    Sort,
    move_problems,
    new_variants_problems,
    null_problems,
    status_problems,
    variant_activity_problems,
)
from vanity_common.cursor import encode_cursor


def _fields(problems) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in problems]


@pytest.mark.parametrize(
    ("status", "variants", "sku", "active", "refused"),
    [
        ("active", [("A", True)], "A", False, True),  # the last one on sale
        ("active", [("A", True), ("B", False)], "A", False, True),
        ("active", [("A", True), ("B", True)], "A", False, False),
        ("active", [("A", True)], "A", True, False),
        ("active", [("A", True)], "A", None, False),  # not part of the change
        ("draft", [("A", True)], "A", False, False),
        ("archived", [("A", True)], "A", False, False),
    ],
)
def test_an_active_product_keeps_a_variant_on_sale(status, variants, sku, active, refused):
    problems = variant_activity_problems(status, variants, sku, active)
    assert _fields(problems) == ([("active", NEEDS_ACTIVE_VARIANT)] if refused else [])


def test_new_product_variants_rules():
    problems = new_variants_problems(
        [("A", "EUR", False), ("A", "USD", False)], status="active", shop_currency="EUR"
    )
    assert _fields(problems) == [
        ("variants[1].currency", "the shop sells in EUR"),
        ("variants[1].sku", "duplicate in this request"),
        ("status", NEEDS_ACTIVE_VARIANT),
    ]
    assert new_variants_problems([], status="draft", shop_currency="EUR") == []
    assert _fields(status_problems("active", has_active_variant=False)) == [
        ("status", NEEDS_ACTIVE_VARIANT)
    ]
    assert status_problems("active", has_active_variant=True) == []


def test_nulls_are_refused_only_where_a_value_is_required():
    assert _fields(null_problems({"name": None, "shade_hex": None, "size": "50 ml"})) == [
        ("name", "cannot be null")
    ]


def test_category_moves():
    assert _fields(move_problems("/1/", "/1/4/", 2)) == [
        ("parent_id", "cannot move a category under itself")
    ]
    assert _fields(move_problems("/1/", "/2/", 6)) == [("parent_id", "at most 5 levels")]
    assert move_problems("/1/", None, 3) == []


@pytest.mark.parametrize(
    "token",
    [
        "not base64 !",
        encode_cursor({"s": "newest", "k": 1}),  # no id
        encode_cursor({"s": "nope", "k": 1, "i": 1}),
        encode_cursor({"s": "newest", "k": 1, "i": 0}),
        encode_cursor({"s": "newest", "k": 2**63, "i": 1}),
        encode_cursor({"s": "newest", "k": "x", "i": 1}),
        "WzEsMiwzXQ",  # base64url of a JSON list
    ],
)
def test_a_malformed_cursor_is_refused(token):
    with pytest.raises(CursorError, match="malformed cursor"):
        Cursor.decode(token, Sort.NEWEST)


def test_a_cursor_round_trips_and_keeps_to_its_sort():
    cursor = Cursor(Sort.NAME, "rouge", 7)
    assert Cursor.decode(cursor.encode(), Sort.NAME) == cursor
    with pytest.raises(CursorError, match="another sort order"):
        Cursor.decode(cursor.encode(), Sort.NEWEST)
