"""Pure catalog rules: naming, search normalisation, sorts and cursors, status, and the rules
the admin use cases apply (what an active product needs, category depth and moves). No I/O."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from vanity_common.cursor import CursorError, decode_cursor, encode_cursor
from vanity_common.errors import FieldError
from vanity_common.types import db_int_in_range

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SKU_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{1,63}$")
TAG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HEX_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

DEFAULT_PAGE_SIZE = 24
MAX_PAGE_SIZE = 100
MAX_TAGS_FILTER = 10
MAX_CATEGORY_DEPTH = 5


class ProductStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class Sort(StrEnum):
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NAME = "name"

    @property
    def descending(self) -> bool:
        return self in (Sort.NEWEST, Sort.PRICE_DESC)


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced: 'Crème  Brûlée' -> 'creme brulee'."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_ish = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(ascii_ish.casefold().split())


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text).replace("'", "")).strip("-")[:160]


def sort_name(name: str) -> str:
    return fold(name)[:200]


def search_text(name: str, brand_name: str, description: str, tags: list[str]) -> str:
    return fold(" ".join([name, brand_name, description, " ".join(tags)]))


def search_terms(query: str) -> list[str]:
    """Words of a text query, folded like `search_text`; LIKE wildcards are escaped later."""
    return [t for t in fold(query).split(" ") if t][:8]


def normalise_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(slugify(t)[:64] for t in tags if slugify(t)))


def min_active_price(variants: list[tuple[int, bool]]) -> int | None:
    """The product's listed ("from") price: the lowest price among its active variants."""
    prices = [price for price, active in variants if active]
    return min(prices) if prices else None


def is_sellable(product_status: str, variant_active: bool) -> bool:
    return product_status == ProductStatus.ACTIVE and variant_active


# ---- cursors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the last row's sort key and id. Opaque to clients (the chassis codec)."""

    sort: Sort
    key: int | str
    id: int

    def encode(self) -> str:
        return encode_cursor({"s": self.sort.value, "k": self.key, "i": self.id})

    @staticmethod
    def decode(token: str, sort: Sort) -> Cursor:
        data = decode_cursor(token)
        try:
            cursor = Cursor(Sort(data["s"]), data["k"], data["i"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CursorError("malformed cursor") from exc
        if cursor.sort != sort:
            raise CursorError("cursor belongs to another sort order")
        # Every number in a cursor reaches a query: out of a 64-bit column's range it would be a
        # driver error (a 500), so it is a malformed cursor (a 422) instead.
        if not db_int_in_range(cursor.id, minimum=1):
            raise CursorError("malformed cursor")
        if sort == Sort.NAME:
            if not isinstance(cursor.key, str):
                raise CursorError("malformed cursor")
        elif not db_int_in_range(cursor.key):
            raise CursorError("malformed cursor")
        return cursor


def created_key(value: datetime) -> int:
    """Microseconds since the epoch: an exact, JSON-safe key for the newest sort."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_created_key(key: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=key)


# ---- admin rules ---------------------------------------------------------------------------

# Fields an update may leave out but never set to null.
NOT_NULLABLE = frozenset(
    {
        "slug",
        "name",
        "brand_id",
        "category_id",
        "description",
        "images",
        "attributes",
        "tags",
        "status",
        "price_minor",
        "currency",
        "active",
        "position",
    }
)
NEEDS_ACTIVE_VARIANT = "an active product needs an active variant"


def null_problems(fields: Mapping[str, Any]) -> list[FieldError]:
    return [
        FieldError(k, "cannot be null")
        for k, v in fields.items()
        if v is None and k in NOT_NULLABLE
    ]


def changes(before: Any, fields: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The audit record of an update: `{field: [old, new]}` for the fields that really change."""
    return {k: [getattr(before, k), v] for k, v in fields.items() if getattr(before, k) != v}


def currency_problem(currency: str | None, shop_currency: str, field: str) -> list[FieldError]:
    if currency is not None and currency != shop_currency:
        return [FieldError(field, f"the shop sells in {shop_currency}")]
    return []


def new_variants_problems(
    variants: Iterable[tuple[str, str, bool]], status: str, shop_currency: str
) -> list[FieldError]:
    """A new product's variants (sku, currency, active): the shop's currency, distinct SKUs, and
    an active variant when the product is created active."""
    problems: list[FieldError] = []
    seen: set[str] = set()
    any_active = False
    for i, (sku, currency, active) in enumerate(variants):
        problems += currency_problem(currency, shop_currency, f"variants[{i}].currency")
        if sku in seen:
            problems.append(FieldError(f"variants[{i}].sku", "duplicate in this request"))
        seen.add(sku)
        any_active = any_active or active
    if status == ProductStatus.ACTIVE and not any_active:
        problems.append(FieldError("status", NEEDS_ACTIVE_VARIANT))
    return problems


def status_problems(new_status: str | None, has_active_variant: bool) -> list[FieldError]:
    """A product is made active only when one of its variants is on sale."""
    if new_status == ProductStatus.ACTIVE and not has_active_variant:
        return [FieldError("status", NEEDS_ACTIVE_VARIANT)]
    return []


def variant_activity_problems(
    product_status: str, variants: Iterable[tuple[str, bool]], sku: str, active: bool | None
) -> list[FieldError]:
    """Deactivating the last active variant of an active product would leave it on sale with
    nothing to sell: archive or draft the product first."""
    if product_status != ProductStatus.ACTIVE or active is None or active:
        return []
    if any(on_sale for other, on_sale in variants if other != sku):
        return []
    return [FieldError("active", NEEDS_ACTIVE_VARIANT)]


def child_depth(parent_depth: int | None) -> int:
    """The depth of a new category under a parent of `parent_depth` (None: top level)."""
    return 1 if parent_depth is None else parent_depth + 1


def parent_problems(parent_depth: int) -> list[FieldError]:
    if parent_depth >= MAX_CATEGORY_DEPTH:
        return [FieldError("parent_id", f"at most {MAX_CATEGORY_DEPTH} levels")]
    return []


def category_path(parent_path: str | None, category_id: int) -> str:
    """Materialised path of ids, "/1/7/": a subtree is every path with its prefix."""
    return (parent_path or "/") + f"{category_id}/"


def move_problems(
    category_path_: str, new_parent_path: str | None, subtree_depth_after: int
) -> list[FieldError]:
    if new_parent_path is not None and new_parent_path.startswith(category_path_):
        return [FieldError("parent_id", "cannot move a category under itself")]
    if subtree_depth_after > MAX_CATEGORY_DEPTH:
        return [FieldError("parent_id", f"at most {MAX_CATEGORY_DEPTH} levels")]
    return []
