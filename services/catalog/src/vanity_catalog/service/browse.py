"""Public browse use cases and the internal price look-up.

Public reads return pre-serialised bodies (with their ETag) and go through the read cache;
the gRPC price look-up never uses the cache: it is the price source for checkout.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from vanity_common.db import Database
from vanity_common.errors import FieldError, InvalidArgument, NotFound
from vanity_common.types import MAX_DB_INT, db_int_in_range, distinct_skus

from vanity_catalog import repository as repo
from vanity_catalog import views
from vanity_catalog.cache import Lookup, NullCache, ReadCache
from vanity_catalog.domain import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_TAGS_FILTER,
    SLUG_RE,
    Cursor,
    CursorError,
    ProductStatus,
    Sort,
    is_sellable,
    search_terms,
    slugify,
)
from vanity_catalog.images.rules import public_url

MAX_SKUS_PER_LOOKUP = 500


@dataclass(frozen=True)
class Body:
    """A serialised answer and its strong ETag."""

    content: bytes
    etag: str

    @staticmethod
    def of(payload: Any) -> Body:
        content = orjson.dumps(payload)
        return Body(content, '"' + hashlib.blake2b(content, digest_size=12).hexdigest() + '"')

    def pack(self) -> bytes:
        return self.etag.encode() + b"\n" + self.content

    @staticmethod
    def unpack(raw: bytes) -> Body:
        etag, _, content = raw.partition(b"\n")
        return Body(content, etag.decode())


@dataclass(frozen=True)
class VariantInfo:
    sku: str
    product_id: int
    product_slug: str
    product_name: str
    brand_name: str
    variant_name: str
    price_minor: int
    currency: str
    active: bool
    image_url: str


def product_query(
    *,
    brand: list[str] | None = None,
    category: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    q: str | None = None,
    tags: list[str] | None = None,
    sort: Sort = Sort.NEWEST,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> repo.ProductQuery:
    """A validated product query (public and admin lists), or `InvalidArgument` naming fields."""
    errors = []
    if not 1 <= limit <= MAX_PAGE_SIZE:
        errors.append(FieldError("limit", f"between 1 and {MAX_PAGE_SIZE}"))
    for name, price in (("min_price", min_price), ("max_price", max_price)):
        if price is not None and not db_int_in_range(price, minimum=0):
            errors.append(FieldError(name, f"between 0 and {MAX_DB_INT}"))
    if min_price is not None and max_price is not None and min_price > max_price:
        errors.append(FieldError("max_price", "must be >= min_price"))
    brand_slugs = tuple(sorted({b.strip().lower() for b in brand or () if b.strip()}))
    tag_values = tuple(sorted({slugify(t) for t in tags or () if slugify(t)}))
    if len(brand_slugs) > 20:
        errors.append(FieldError("brand", "at most 20 brands"))
    if len(tag_values) > MAX_TAGS_FILTER:
        errors.append(FieldError("tag", f"at most {MAX_TAGS_FILTER} tags"))
    if q is not None and len(q) > 200:
        errors.append(FieldError("q", "at most 200 characters"))
    decoded = None
    if cursor:
        try:
            decoded = Cursor.decode(cursor, sort)
        except CursorError as exc:
            errors.append(FieldError("cursor", str(exc)))
    if errors:
        raise InvalidArgument("Invalid product query.", errors=errors)
    return repo.ProductQuery(
        brands=brand_slugs,
        category=(category or "").strip().lower() or None,
        min_price=min_price,
        max_price=max_price,
        terms=tuple(search_terms(q or "")),
        tags=tag_values,
        sort=sort,
        limit=limit,
        cursor=decoded,
    )


async def product_page(db: Database, query: repo.ProductQuery, admin: bool = False) -> dict:
    """Two statements whatever the page size: the page, then its variants."""
    async with db.connect() as conn:
        rows = await repo.list_products(conn, query)
        page = rows[: query.limit]
        by_product: dict[int, list] = defaultdict(list)
        for v in await repo.variants_for(conn, [r.id for r in page], active_only=not admin):
            by_product[v.product_id].append(v)
    items = []
    for row in page:
        item = views.list_item(row, by_product[row.id])
        if admin:
            item["status"] = row.status
        items.append(item)
    next_cursor = None
    if len(rows) > query.limit and page:
        last = page[-1]
        next_cursor = Cursor(query.sort, repo.sort_value(query.sort, last), last.id).encode()
    return {
        "items": items,
        "next_cursor": next_cursor,
        "limit": query.limit,
        "sort": query.sort.value,
    }


async def breadcrumb(conn, path: str) -> list[dict[str, str]]:
    ids = [int(p) for p in path.strip("/").split("/") if p]
    found = {r.id: r for r in await repo.categories_by_ids(conn, ids)}
    return [{"slug": found[i].slug, "name": found[i].name} for i in ids if i in found]


class BrowseService:
    def __init__(self, db: Database, cache: ReadCache | None = None) -> None:
        self.db = db
        self.cache = cache or NullCache()

    async def _cached(
        self, key: str, build: Callable[[], Awaitable[Any]], found: Lookup | None = None
    ) -> Body:
        """`found`: a lookup of `key` already made by the caller (the REST hit path), so a miss
        costs one cache round trip, not two. The entry is stored under the generation that
        lookup saw, which was read before the database: an invalidation in between wins."""
        if found is None:
            found = await self.cache.lookup(key)
        if found.value is not None:
            return Body.unpack(found.value)
        body = Body.of(await build())  # ETag hashed once here, at fill time, stored with the body
        await self.cache.store(found.generation, key, body.pack())
        return body

    async def lookup(self, key: str) -> tuple[Body | None, Lookup]:
        """The cache hit path: no validation, no database; `None` on a miss."""
        found = await self.cache.lookup(key)
        return (None if found.value is None else Body.unpack(found.value)), found

    @staticmethod
    def list_key(raw_query: bytes) -> str:
        """A list page's cache key: the query string exactly as sent. An entry is only ever
        stored by a request whose identical query string passed validation (which is
        deterministic), so a hit can skip parsing and validation; invalid input never has an
        entry and always reaches the validating handler (and its 422)."""
        return "list:" + hashlib.blake2b(raw_query, digest_size=16).hexdigest()

    @staticmethod
    def detail_key(slug: str) -> str | None:
        if len(slug) > 160 or not SLUG_RE.match(slug):
            return None
        return f"product:{slug}"

    async def browse_products(
        self, query: repo.ProductQuery, raw_query: bytes, found: Lookup | None = None
    ) -> Body:
        """`query` is the validated form of `raw_query` (the request's query string)."""
        return await self._cached(
            self.list_key(raw_query), lambda: product_page(self.db, query), found
        )

    async def product_detail(self, slug: str, found: Lookup | None = None) -> Body:
        key = self.detail_key(slug)
        if key is None:  # no DB trip, no cache entry for junk
            raise NotFound(f"No product '{slug[:160]}'.", reason="PRODUCT_NOT_FOUND")
        return await self._cached(key, lambda: self._detail(slug), found)

    async def _detail(self, slug: str) -> dict[str, Any]:
        async with self.db.connect() as conn:
            row = await repo.product_by_slug(conn, slug)
            if row is None or row.status != ProductStatus.ACTIVE:
                raise NotFound(f"No product '{slug}'.", reason="PRODUCT_NOT_FOUND")
            row_variants = await repo.variants_for(conn, [row.id], active_only=True)
            crumbs = await breadcrumb(conn, row.category_path)
        return views.product_detail(row, row_variants, crumbs)

    async def brand_list(self, found: Lookup | None = None) -> Body:
        async def build():
            async with self.db.connect() as conn:
                rows = await repo.all_brands(conn)
                counts = await repo.brand_product_counts(conn)
            return {"items": [views.brand(r, counts.get(r.id, 0)) for r in rows]}

        return await self._cached("brands", build, found)

    async def category_tree(self, found: Lookup | None = None) -> Body:
        async def build():
            async with self.db.connect() as conn:
                rows = await repo.all_categories(conn)
            return {"items": views.category_tree(rows)}

        return await self._cached("categories", build, found)

    # ---- internal price source (never cached) ------------------------------------------------

    async def get_variants(self, skus: list[str]) -> tuple[list[VariantInfo], list[str]]:
        unique = distinct_skus(skus, field="skus", limit=MAX_SKUS_PER_LOOKUP)
        queryable = [s for s in unique if len(s) <= 64]
        async with self.db.connect() as conn:
            rows = {r.sku: r for r in await repo.variants_by_sku(conn, queryable)}
        found, unknown = [], []
        for sku in unique:
            r = rows.get(sku)
            if r is None:
                unknown.append(sku)
                continue
            found.append(
                VariantInfo(
                    sku=r.sku,
                    product_id=r.product_id,
                    product_slug=r.product_slug,
                    product_name=r.product_name,
                    brand_name=r.brand_name,
                    variant_name=r.name,
                    price_minor=int(r.price_minor),
                    currency=r.currency,
                    active=is_sellable(r.product_status, bool(r.active)),
                    # the shade's own picture, else the product's first
                    image_url=public_url(r.image or (r.images or [""])[0]),
                )
            )
        return found, unknown
