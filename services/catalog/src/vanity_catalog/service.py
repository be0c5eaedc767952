"""Catalog use cases, callable from REST, gRPC and tasks alike.

Public reads return pre-serialised bodies (with their ETag) and go through the read cache;
admin writes run in one transaction each (with their audit row) and invalidate the cache after
the commit. The gRPC price look-up never uses the cache: it is the price source for checkout.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError
from vanity_common.auth import Principal
from vanity_common.context import current_request_id
from vanity_common.db import Database
from vanity_common.errors import Conflict, FieldError, InvalidArgument, NotFound

from vanity_catalog import repository as repo
from vanity_catalog import views
from vanity_catalog.cache import Lookup, NullCache, ReadCache
from vanity_catalog.domain import (
    DEFAULT_PAGE_SIZE,
    MAX_CATEGORY_DEPTH,
    MAX_PAGE_SIZE,
    MAX_TAGS_FILTER,
    SLUG_RE,
    Cursor,
    CursorError,
    ProductStatus,
    Sort,
    is_sellable,
    search_terms,
    search_text,
    slugify,
    sort_name,
)
from vanity_catalog.schemas import (
    NOT_NULLABLE,
    BrandCreate,
    BrandUpdate,
    CategoryCreate,
    CategoryUpdate,
    ProductCreate,
    ProductUpdate,
    VariantCreate,
    VariantUpdate,
)
from vanity_catalog.tables import brands, categories, products, variants

log = logging.getLogger(__name__)
T = TypeVar("T")
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


def _now() -> datetime:
    return datetime.now(UTC)


def _json_safe(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


class CatalogService:
    def __init__(self, db: Database, cache: ReadCache | None = None, currency: str = "EUR"):
        self.db = db
        self.cache = cache or NullCache()
        self.currency = currency

    # ---- public reads (cached) ---------------------------------------------------------------

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

    def product_query(
        self,
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
        errors = []
        if not 1 <= limit <= MAX_PAGE_SIZE:
            errors.append(FieldError("limit", f"between 1 and {MAX_PAGE_SIZE}"))
        if min_price is not None and min_price < 0:
            errors.append(FieldError("min_price", "must be >= 0"))
        if max_price is not None and max_price < 0:
            errors.append(FieldError("max_price", "must be >= 0"))
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

    async def browse_products(
        self, query: repo.ProductQuery, raw_query: bytes, found: Lookup | None = None
    ) -> Body:
        """`query` is the validated form of `raw_query` (the request's query string)."""
        return await self._cached(self.list_key(raw_query), lambda: self._page(query), found)

    async def _page(self, query: repo.ProductQuery, admin: bool = False) -> dict[str, Any]:
        """Two statements whatever the page size: the page, then its variants."""
        async with self.db.connect() as conn:
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
            crumbs = await self._breadcrumb(conn, row.category_path)
        return views.product_detail(row, row_variants, crumbs)

    async def _breadcrumb(self, conn, path: str) -> list[dict[str, str]]:
        ids = [int(p) for p in path.strip("/").split("/") if p]
        found = {r.id: r for r in await repo.categories_by_ids(conn, ids)}
        return [{"slug": found[i].slug, "name": found[i].name} for i in ids if i in found]

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
        unique = list(dict.fromkeys(s.strip() for s in skus if s and s.strip()))
        if not unique:
            raise InvalidArgument(
                "At least one SKU is required.", errors=[FieldError("skus", "required")]
            )
        if len(unique) > MAX_SKUS_PER_LOOKUP:
            raise InvalidArgument(
                f"At most {MAX_SKUS_PER_LOOKUP} SKUs per request.",
                errors=[FieldError("skus", f"at most {MAX_SKUS_PER_LOOKUP} values")],
            )
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
                    image_url=(r.images or [""])[0],
                )
            )
        return found, unknown

    # ---- admin reads -------------------------------------------------------------------------

    async def admin_products(
        self, query: repo.ProductQuery, statuses: tuple[str, ...]
    ) -> dict[str, Any]:
        from dataclasses import replace

        query = replace(query, statuses=statuses, listed_only=False)
        return await self._page(query, admin=True)

    async def admin_product(self, product_id: int) -> dict[str, Any]:
        async with self.db.connect() as conn:
            return await self._admin_product(conn, product_id)

    async def _admin_product(self, conn, product_id: int) -> dict[str, Any]:
        row = await repo.product_by_id(conn, product_id)
        if row is None:
            raise NotFound(f"No product {product_id}.", reason="PRODUCT_NOT_FOUND")
        row_variants = await repo.variants_of(conn, product_id)
        crumbs = await self._breadcrumb(conn, row.category_path)
        return views.product_detail(row, row_variants, crumbs, admin=True)

    async def admin_brands(self) -> dict[str, Any]:
        async with self.db.connect() as conn:
            rows = await repo.all_brands(conn)
        return {"items": [views.brand(r) for r in rows]}

    async def admin_categories(self) -> dict[str, Any]:
        async with self.db.connect() as conn:
            rows = await repo.all_categories(conn)
        return {"items": [views.category(r) for r in rows]}

    async def audit_log(
        self, entity: str | None, entity_id: str | None, limit: int, before: int | None
    ) -> dict[str, Any]:
        async with self.db.connect() as conn:
            rows = await repo.audit_entries(conn, entity, entity_id, limit, before)
        return {
            "items": [views.audit(r) for r in rows],
            "next_before": rows[-1].id if len(rows) == limit else None,
        }

    # ---- admin writes ------------------------------------------------------------------------

    async def _write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        try:
            result = await self.db.run_in_transaction(work)
        except IntegrityError as exc:  # a concurrent writer won a unique slug/SKU
            text = str(exc.orig).lower()
            field = "sku" if "sku" in text else "slug"
            raise Conflict(
                f"The {field} is already used.",
                reason=f"{field.upper()}_TAKEN",
                errors=[FieldError(field, "already used")],
            ) from exc
        await self.cache.invalidate()  # after the commit: see cache.py
        return result

    async def _audit(
        self, conn, actor: Principal, action: str, entity: str, entity_id, changes: dict
    ) -> None:
        await repo.write_audit(
            conn,
            {
                "at": _now(),
                "actor": actor.user_id,
                "action": action,
                "entity": entity,
                "entity_id": str(entity_id),
                "changes": _json_safe(changes),
                "request_id": current_request_id(),
            },
        )

    @staticmethod
    async def _ensure_slug_free(conn, table, slug: str, except_id: int | None = None) -> None:
        if await repo.slug_taken(conn, table, slug, except_id=except_id):
            raise Conflict(
                f"Slug '{slug}' is already used.",
                reason="SLUG_TAKEN",
                errors=[FieldError("slug", "already used")],
            )

    def _check_currency(self, currency: str | None, field: str, errors: list[FieldError]) -> None:
        if currency is not None and currency != self.currency:
            errors.append(FieldError(field, f"the shop sells in {self.currency}"))

    @staticmethod
    def _reject_nulls(fields: dict[str, Any]) -> None:
        nulls = [k for k, v in fields.items() if v is None and k in NOT_NULLABLE]
        if nulls:
            raise InvalidArgument(
                "Fields cannot be null: " + ", ".join(nulls),
                errors=[FieldError(k, "cannot be null") for k in nulls],
            )

    async def create_product(self, actor: Principal, data: ProductCreate) -> dict[str, Any]:
        async def work(conn):
            errors: list[FieldError] = []
            brand = await repo.brand_by_id(conn, data.brand_id)
            if brand is None:
                errors.append(FieldError("brand_id", "unknown brand"))
            if await repo.category_by_id(conn, data.category_id) is None:
                errors.append(FieldError("category_id", "unknown category"))
            seen: set[str] = set()
            for i, v in enumerate(data.variants):
                self._check_currency(v.currency, f"variants[{i}].currency", errors)
                if v.sku in seen:
                    errors.append(FieldError(f"variants[{i}].sku", "duplicate in this request"))
                seen.add(v.sku)
            if data.status == ProductStatus.ACTIVE and not any(v.active for v in data.variants):
                errors.append(FieldError("status", "an active product needs an active variant"))
            if errors:
                raise InvalidArgument("Invalid product.", errors=errors)
            slug = data.slug or slugify(f"{brand.name} {data.name}")
            if await repo.slug_taken(conn, products, slug):
                raise Conflict(
                    f"Slug '{slug}' is already used.",
                    reason="SLUG_TAKEN",
                    errors=[FieldError("slug", "already used")],
                )
            await self._check_skus_free(conn, [v.sku for v in data.variants], "variants[{i}].sku")
            now = _now()
            product_id = await repo.insert_row(
                conn,
                products,
                {
                    "slug": slug,
                    "name": data.name,
                    "sort_name": sort_name(data.name),
                    "brand_id": data.brand_id,
                    "category_id": data.category_id,
                    "description": data.description,
                    "images": data.images,
                    "attributes": data.attributes.model_dump(exclude_none=True),
                    "tags": data.tags,
                    "status": data.status,
                    "min_price_minor": None,
                    "currency": self.currency,
                    "search_text": search_text(data.name, brand.name, data.description, data.tags),
                    "created_at": now,
                    "updated_at": now,
                },
            )
            for v in data.variants:
                await repo.insert_row(conn, variants, self._variant_values(product_id, v, now))
            await repo.replace_tags(conn, product_id, data.tags)
            await repo.refresh_min_price(conn, product_id, now)
            await self._audit(
                conn, actor, "product.create", "product", product_id, data.model_dump()
            )
            return await self._admin_product(conn, product_id)

        return await self._write(work)

    async def _check_skus_free(self, conn, skus: list[str], field_pattern: str) -> None:
        taken = await repo.existing_skus(conn, skus)
        if taken:
            raise Conflict(
                "SKU already used: " + ", ".join(sorted(taken)),
                reason="SKU_TAKEN",
                errors=[
                    FieldError(field_pattern.format(i=i), "already used")
                    for i, sku in enumerate(skus)
                    if sku in taken
                ],
            )

    def _variant_values(self, product_id: int, v: VariantCreate, now: datetime) -> dict:
        return {
            "product_id": product_id,
            "sku": v.sku,
            "name": v.name,
            "shade_hex": v.shade_hex.upper() if v.shade_hex else None,
            "size": v.size,
            "price_minor": v.price_minor,
            "currency": v.currency,
            "active": v.active,
            "position": v.position,
            "created_at": now,
            "updated_at": now,
        }

    async def update_product(
        self, actor: Principal, product_id: int, data: ProductUpdate, action="product.update"
    ) -> dict[str, Any]:
        fields = data.model_dump(exclude_unset=True)
        self._reject_nulls(fields)
        if "attributes" in fields:
            fields["attributes"] = data.attributes.model_dump(exclude_none=True)

        async def work(conn):
            if not await repo.lock_product(conn, product_id):
                raise NotFound(f"No product {product_id}.", reason="PRODUCT_NOT_FOUND")
            before = await repo.product_by_id(conn, product_id)
            errors: list[FieldError] = []
            brand_name = before.brand_name
            if "brand_id" in fields and fields["brand_id"] != before.brand_id:
                brand = await repo.brand_by_id(conn, fields["brand_id"])
                if brand is None:
                    errors.append(FieldError("brand_id", "unknown brand"))
                else:
                    brand_name = brand.name
            new_category = fields.get("category_id", before.category_id)
            if new_category != before.category_id and not await repo.category_by_id(
                conn, new_category
            ):
                errors.append(FieldError("category_id", "unknown category"))
            if fields.get("status") == ProductStatus.ACTIVE and before.min_price_minor is None:
                errors.append(FieldError("status", "an active product needs an active variant"))
            if errors:
                raise InvalidArgument("Invalid product.", errors=errors)
            if "slug" in fields and fields["slug"] != before.slug:
                await self._ensure_slug_free(conn, products, fields["slug"], product_id)
            changes = {
                k: [getattr(before, k), v] for k, v in fields.items() if getattr(before, k) != v
            }
            values = {k: fields[k] for k in changes}
            if "name" in values:
                values["sort_name"] = sort_name(values["name"])
            if changes.keys() & {"name", "description", "tags", "brand_id"}:
                values["search_text"] = search_text(
                    fields.get("name", before.name),
                    brand_name,
                    fields.get("description", before.description),
                    fields.get("tags", before.tags or []),
                )
            if "tags" in changes:
                await repo.replace_tags(conn, product_id, fields["tags"])
            if values:
                values["updated_at"] = _now()
                await repo.update_row(conn, products, product_id, values)
            await self._audit(conn, actor, action, "product", product_id, changes)
            return await self._admin_product(conn, product_id)

        return await self._write(work)

    async def archive_product(self, actor: Principal, product_id: int) -> dict[str, Any]:
        return await self.update_product(
            actor, product_id, ProductUpdate(status="archived"), action="product.archive"
        )

    async def add_variant(
        self, actor: Principal, product_id: int, data: VariantCreate
    ) -> dict[str, Any]:
        errors: list[FieldError] = []
        self._check_currency(data.currency, "currency", errors)
        if errors:
            raise InvalidArgument("Invalid variant.", errors=errors)

        async def work(conn):
            if not await repo.lock_product(conn, product_id):
                raise NotFound(f"No product {product_id}.", reason="PRODUCT_NOT_FOUND")
            await self._check_skus_free(conn, [data.sku], "sku")
            now = _now()
            await repo.insert_row(conn, variants, self._variant_values(product_id, data, now))
            await repo.refresh_min_price(conn, product_id, now)
            await self._audit(conn, actor, "variant.create", "variant", data.sku, data.model_dump())
            return await self._admin_product(conn, product_id)

        return await self._write(work)

    async def update_variant(
        self,
        actor: Principal,
        product_id: int,
        sku: str,
        data: VariantUpdate,
        action: str = "variant.update",
    ) -> dict[str, Any]:
        fields = data.model_dump(exclude_unset=True)
        self._reject_nulls(fields)
        errors: list[FieldError] = []
        self._check_currency(fields.get("currency"), "currency", errors)
        if errors:
            raise InvalidArgument("Invalid variant.", errors=errors)
        if fields.get("shade_hex"):
            fields["shade_hex"] = fields["shade_hex"].upper()

        async def work(conn):
            if not await repo.lock_product(conn, product_id):
                raise NotFound(f"No product {product_id}.", reason="PRODUCT_NOT_FOUND")
            before = await repo.variant_by_sku(conn, product_id, sku)
            if before is None:
                raise NotFound(f"No variant {sku} on product {product_id}.", reason="SKU_NOT_FOUND")
            changes = {
                k: [getattr(before, k), v] for k, v in fields.items() if getattr(before, k) != v
            }
            now = _now()
            if changes:
                await repo.update_row(
                    conn,
                    variants,
                    before.id,
                    {**{k: fields[k] for k in changes}, "updated_at": now},
                )
                await repo.refresh_min_price(conn, product_id, now)
            await self._audit(conn, actor, action, "variant", sku, changes)
            return await self._admin_product(conn, product_id)

        return await self._write(work)

    async def deactivate_variant(self, actor: Principal, product_id: int, sku: str):
        return await self.update_variant(
            actor, product_id, sku, VariantUpdate(active=False), action="variant.deactivate"
        )

    # brands

    async def create_brand(self, actor: Principal, data: BrandCreate) -> dict[str, Any]:
        slug = data.slug or slugify(data.name)
        if not slug:
            raise InvalidArgument("Invalid brand.", errors=[FieldError("slug", "required")])

        async def work(conn):
            if await repo.slug_taken(conn, brands, slug):
                raise Conflict(
                    f"Slug '{slug}' is already used.",
                    reason="SLUG_TAKEN",
                    errors=[FieldError("slug", "already used")],
                )
            now = _now()
            values = {"slug": slug, "name": data.name, "description": data.description}
            brand_id = await repo.insert_row(
                conn, brands, {**values, "created_at": now, "updated_at": now}
            )
            await self._audit(conn, actor, "brand.create", "brand", brand_id, values)
            return views.brand(await repo.brand_by_id(conn, brand_id))

        return await self._write(work)

    async def update_brand(
        self, actor: Principal, brand_id: int, data: BrandUpdate
    ) -> dict[str, Any]:
        fields = data.model_dump(exclude_unset=True)
        self._reject_nulls(fields)

        async def work(conn):
            before = await repo.brand_by_id(conn, brand_id, lock=True)
            if before is None:
                raise NotFound(f"No brand {brand_id}.", reason="BRAND_NOT_FOUND")
            if "slug" in fields and fields["slug"] != before.slug:
                await self._ensure_slug_free(conn, brands, fields["slug"], brand_id)
            changes = {
                k: [getattr(before, k), v] for k, v in fields.items() if getattr(before, k) != v
            }
            if changes:
                now = _now()
                await repo.update_row(
                    conn, brands, brand_id, {**{k: fields[k] for k in changes}, "updated_at": now}
                )
                if "name" in changes:  # the brand name is part of every product's search text
                    for p in await repo.products_of_brand(conn, brand_id):
                        await repo.update_row(
                            conn,
                            products,
                            p.id,
                            {
                                "search_text": search_text(
                                    p.name, fields["name"], p.description, p.tags or []
                                ),
                                "updated_at": now,
                            },
                        )
            await self._audit(conn, actor, "brand.update", "brand", brand_id, changes)
            return views.brand(await repo.brand_by_id(conn, brand_id))

        return await self._write(work)

    async def delete_brand(self, actor: Principal, brand_id: int) -> None:
        async def work(conn):
            before = await repo.brand_by_id(conn, brand_id, lock=True)
            if before is None:
                raise NotFound(f"No brand {brand_id}.", reason="BRAND_NOT_FOUND")
            if await repo.count_where(conn, products, products.c.brand_id == brand_id):
                raise Conflict(
                    "The brand still has products; archive or move them first.",
                    reason="BRAND_IN_USE",
                )
            await repo.delete_row(conn, brands, brand_id)
            await self._audit(conn, actor, "brand.delete", "brand", brand_id, views.brand(before))

        await self._write(work)

    # categories

    async def create_category(self, actor: Principal, data: CategoryCreate) -> dict[str, Any]:
        slug = data.slug or slugify(data.name)
        if not slug:
            raise InvalidArgument("Invalid category.", errors=[FieldError("slug", "required")])

        async def work(conn):
            parent = None
            if data.parent_id is not None:
                parent = await repo.category_by_id(conn, data.parent_id)
                if parent is None:
                    raise InvalidArgument(
                        "Invalid category.", errors=[FieldError("parent_id", "unknown category")]
                    )
                if parent.depth >= MAX_CATEGORY_DEPTH:
                    raise InvalidArgument(
                        "Invalid category.",
                        errors=[FieldError("parent_id", f"at most {MAX_CATEGORY_DEPTH} levels")],
                    )
            if await repo.slug_taken(conn, categories, slug):
                raise Conflict(
                    f"Slug '{slug}' is already used.",
                    reason="SLUG_TAKEN",
                    errors=[FieldError("slug", "already used")],
                )
            now = _now()
            values = {
                "slug": slug,
                "name": data.name,
                "parent_id": data.parent_id,
                "position": data.position,
            }
            category_id = await repo.insert_row(
                conn,
                categories,
                {
                    **values,
                    "path": "",
                    "depth": parent.depth + 1 if parent else 1,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            path = (parent.path if parent else "/") + f"{category_id}/"
            await repo.update_row(conn, categories, category_id, {"path": path})
            await self._audit(conn, actor, "category.create", "category", category_id, values)
            return views.category(await repo.category_by_id(conn, category_id))

        return await self._write(work)

    async def update_category(
        self, actor: Principal, category_id: int, data: CategoryUpdate
    ) -> dict[str, Any]:
        fields = data.model_dump(exclude_unset=True)
        self._reject_nulls({k: v for k, v in fields.items() if k != "parent_id"})

        async def work(conn):
            before = await repo.category_by_id(conn, category_id, lock=True)
            if before is None:
                raise NotFound(f"No category {category_id}.", reason="CATEGORY_NOT_FOUND")
            if "slug" in fields and fields["slug"] != before.slug:
                await self._ensure_slug_free(conn, categories, fields["slug"], category_id)
            changes = {
                k: [getattr(before, k), v] for k, v in fields.items() if getattr(before, k) != v
            }
            now = _now()
            if "parent_id" in changes:
                await self._move_category(conn, before, fields["parent_id"])
            simple = {k: fields[k] for k in changes if k != "parent_id"}
            if changes:
                await repo.update_row(
                    conn,
                    categories,
                    category_id,
                    {
                        **simple,
                        "parent_id": fields.get("parent_id", before.parent_id),
                        "updated_at": now,
                    },
                )
            await self._audit(conn, actor, "category.update", "category", category_id, changes)
            return views.category(await repo.category_by_id(conn, category_id))

        return await self._write(work)

    async def _move_category(self, conn, category, new_parent_id: int | None) -> None:
        if new_parent_id is None:
            new_prefix, new_depth = f"/{category.id}/", 1
        else:
            parent = await repo.category_by_id(conn, new_parent_id)
            if parent is None:
                raise InvalidArgument(
                    "Invalid category.", errors=[FieldError("parent_id", "unknown category")]
                )
            if parent.path.startswith(category.path):
                raise InvalidArgument(
                    "Invalid category.",
                    errors=[FieldError("parent_id", "cannot move a category under itself")],
                )
            new_prefix, new_depth = parent.path + f"{category.id}/", parent.depth + 1
        delta = new_depth - category.depth
        if await repo.subtree_max_depth(conn, category.path) + delta > MAX_CATEGORY_DEPTH:
            raise InvalidArgument(
                "Invalid category.",
                errors=[FieldError("parent_id", f"at most {MAX_CATEGORY_DEPTH} levels")],
            )
        await repo.move_subtree(conn, category.path, new_prefix, delta)

    async def delete_category(self, actor: Principal, category_id: int) -> None:
        async def work(conn):
            before = await repo.category_by_id(conn, category_id, lock=True)
            if before is None:
                raise NotFound(f"No category {category_id}.", reason="CATEGORY_NOT_FOUND")
            if await repo.count_where(conn, categories, categories.c.parent_id == category_id):
                raise Conflict("The category has sub-categories.", reason="CATEGORY_HAS_CHILDREN")
            if await repo.count_where(conn, products, products.c.category_id == category_id):
                raise Conflict("The category still has products.", reason="CATEGORY_IN_USE")
            await repo.delete_row(conn, categories, category_id)
            await self._audit(
                conn, actor, "category.delete", "category", category_id, views.category(before)
            )

        await self._write(work)
