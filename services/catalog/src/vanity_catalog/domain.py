"""Pure catalog rules: naming, search normalisation, sorts and cursors, status. No I/O."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import orjson

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


class CursorError(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the last row's sort key and id. Opaque to clients (base64url JSON)."""

    sort: Sort
    key: int | str
    id: int

    def encode(self) -> str:
        raw = orjson.dumps({"s": self.sort.value, "k": self.key, "i": self.id})
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @staticmethod
    def decode(token: str, sort: Sort) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = orjson.loads(raw)
            cursor = Cursor(Sort(data["s"]), data["k"], int(data["i"]))
        except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            raise CursorError("malformed cursor") from exc
        if cursor.sort != sort:
            raise CursorError("cursor belongs to another sort order")
        expected = str if sort == Sort.NAME else int
        if not isinstance(cursor.key, expected) or isinstance(cursor.key, bool):
            raise CursorError("malformed cursor")
        return cursor


def created_key(value: datetime) -> int:
    """Microseconds since the epoch: an exact, JSON-safe key for the newest sort."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_created_key(key: int) -> datetime:
    from datetime import timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=key)
