"""Catalog persistence: Core statements over a connection or session (both `execute`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.engine import Row

from vanity_catalog.domain import Cursor, ProductStatus, Sort, from_created_key
from vanity_catalog.tables import (
    admin_audit,
    brands,
    categories,
    product_tags,
    products,
    variants,
)

# ---- public reads --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductQuery:
    brands: tuple[str, ...] = ()
    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    terms: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sort: Sort = Sort.NEWEST
    limit: int = 24
    cursor: Cursor | None = None
    statuses: tuple[str, ...] = (ProductStatus.ACTIVE.value,)
    listed_only: bool = True  # public: only products with an active variant (a price)
    extra: dict[str, Any] = field(default_factory=dict)


_LIST_COLUMNS = (
    products.c.id,
    products.c.slug,
    products.c.name,
    products.c.images,
    products.c.tags,
    products.c.attributes,
    products.c.status,
    products.c.min_price_minor,
    products.c.currency,
    products.c.created_at,
    products.c.updated_at,
    products.c.sort_name,
    brands.c.slug.label("brand_slug"),
    brands.c.name.label("brand_name"),
    categories.c.slug.label("category_slug"),
    categories.c.name.label("category_name"),
)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sort_key(sort: Sort):
    return {
        Sort.NEWEST: products.c.created_at,
        Sort.PRICE_ASC: products.c.min_price_minor,
        Sort.PRICE_DESC: products.c.min_price_minor,
        Sort.NAME: products.c.sort_name,
    }[sort]


def sort_value(sort: Sort, row: Row) -> int | str:
    from vanity_catalog.domain import created_key

    if sort == Sort.NEWEST:
        return created_key(row.created_at)
    if sort == Sort.NAME:
        return row.sort_name
    return int(row.min_price_minor)


async def list_products(conn, q: ProductQuery) -> list[Row]:
    """One statement: the page (limit + 1 rows, to know whether there is a next one)."""
    stmt = select(*_LIST_COLUMNS).select_from(
        products.join(brands, brands.c.id == products.c.brand_id).join(
            categories, categories.c.id == products.c.category_id
        )
    )
    conditions = [products.c.status.in_(q.statuses)]
    if q.listed_only:
        conditions.append(products.c.min_price_minor.is_not(None))
    if q.brands:
        conditions.append(
            products.c.brand_id.in_(select(brands.c.id).where(brands.c.slug.in_(q.brands)))
        )
    if q.category:
        parent = categories.alias("parent")
        sub = categories.alias("sub")
        prefix = select(parent.c.path).where(parent.c.slug == q.category).scalar_subquery()
        conditions.append(
            products.c.category_id.in_(select(sub.c.id).where(sub.c.path.like(prefix + "%")))
        )
    if q.min_price is not None:
        conditions.append(products.c.min_price_minor >= q.min_price)
    if q.max_price is not None:
        conditions.append(products.c.min_price_minor <= q.max_price)
    for term in q.terms:
        conditions.append(products.c.search_text.like(f"%{_escape_like(term)}%", escape="\\"))
    for tag in q.tags:
        conditions.append(
            exists().where(product_tags.c.product_id == products.c.id, product_tags.c.tag == tag)
        )
    key = _sort_key(q.sort)
    if q.cursor is not None:
        value: Any = q.cursor.key
        if q.sort == Sort.NEWEST:
            value = from_created_key(int(value))
        if q.sort.descending:
            conditions.append(or_(key < value, and_(key == value, products.c.id < q.cursor.id)))
        else:
            conditions.append(or_(key > value, and_(key == value, products.c.id > q.cursor.id)))
    if q.sort.descending:
        order = (key.desc(), products.c.id.desc())
    else:
        order = (key.asc(), products.c.id.asc())
    stmt = stmt.where(*conditions).order_by(*order).limit(q.limit + 1)
    if not q.brands:
        # MariaDB otherwise drives the join from `brands` (a full scan, 24 rows) and joins
        # products by (brand_id, status): every listed product goes into a temporary table and
        # is filesorted before the LIMIT. Forcing products first lets it walk the sort's
        # (status, key, id) index and stop after limit + 1 rows (EXPLAIN in docs/catalog.md).
        # A brand filter keeps the optimiser's choice: (brand_id, status) and a small sort.
        stmt = stmt.prefix_with("STRAIGHT_JOIN", dialect="mysql").prefix_with(
            "STRAIGHT_JOIN", dialect="mariadb"
        )
    return list(await conn.execute(stmt))


_VARIANT_COLUMNS = (
    variants.c.id,
    variants.c.product_id,
    variants.c.sku,
    variants.c.name,
    variants.c.shade_hex,
    variants.c.size,
    variants.c.price_minor,
    variants.c.currency,
    variants.c.active,
    variants.c.position,
    variants.c.image,
)


async def variants_for(conn, product_ids: list[int], active_only: bool = True) -> list[Row]:
    """One statement for all products of a page (no N+1)."""
    if not product_ids:
        return []
    stmt = select(*_VARIANT_COLUMNS).where(variants.c.product_id.in_(product_ids))
    if active_only:
        stmt = stmt.where(variants.c.active.is_(True))
    stmt = stmt.order_by(variants.c.product_id, variants.c.position, variants.c.id)
    return list(await conn.execute(stmt))


def _product_stmt():
    return select(
        *_LIST_COLUMNS,
        products.c.description,
        products.c.brand_id,
        products.c.category_id,
        categories.c.path.label("category_path"),
    ).select_from(
        products.join(brands, brands.c.id == products.c.brand_id).join(
            categories, categories.c.id == products.c.category_id
        )
    )


async def product_by_slug(conn, slug: str) -> Row | None:
    stmt = _product_stmt().where(products.c.slug == slug)
    return (await conn.execute(stmt)).first()


async def product_by_id(conn, product_id: int) -> Row | None:
    stmt = _product_stmt().where(products.c.id == product_id)
    return (await conn.execute(stmt)).first()


async def lock_product(conn, product_id: int) -> bool:
    """Row lock on the product (MariaDB; SQLite writers are serialised already): variant and
    product writes on one product run one at a time, so the listed price stays exact."""
    stmt = select(products.c.id).where(products.c.id == product_id).with_for_update()
    return (await conn.execute(stmt)).first() is not None


async def categories_by_ids(conn, ids: list[int]) -> list[Row]:
    if not ids:
        return []
    rows = await conn.execute(
        select(categories.c.id, categories.c.slug, categories.c.name).where(
            categories.c.id.in_(ids)
        )
    )
    return list(rows)


async def all_brands(conn) -> list[Row]:
    return list(
        await conn.execute(
            select(brands.c.id, brands.c.slug, brands.c.name, brands.c.description).order_by(
                brands.c.name, brands.c.id
            )
        )
    )


async def brand_product_counts(conn) -> dict[int, int]:
    rows = await conn.execute(
        select(products.c.brand_id, func.count())
        .where(
            products.c.status == ProductStatus.ACTIVE.value,
            products.c.min_price_minor.is_not(None),
        )
        .group_by(products.c.brand_id)
    )
    return {brand_id: int(n) for brand_id, n in rows}


async def all_categories(conn) -> list[Row]:
    return list(
        await conn.execute(
            select(
                categories.c.id,
                categories.c.slug,
                categories.c.name,
                categories.c.parent_id,
                categories.c.path,
                categories.c.depth,
                categories.c.position,
            ).order_by(categories.c.depth, categories.c.position, categories.c.name)
        )
    )


async def variants_by_sku(conn, skus: list[str]) -> list[Row]:
    stmt = (
        select(
            variants.c.sku,
            variants.c.name,
            variants.c.price_minor,
            variants.c.currency,
            variants.c.active,
            variants.c.image,
            products.c.id.label("product_id"),
            products.c.slug.label("product_slug"),
            products.c.name.label("product_name"),
            products.c.status.label("product_status"),
            products.c.images,
            brands.c.name.label("brand_name"),
        )
        .select_from(
            variants.join(products, products.c.id == variants.c.product_id).join(
                brands, brands.c.id == products.c.brand_id
            )
        )
        .where(variants.c.sku.in_(skus))
    )
    return list(await conn.execute(stmt))


# ---- writes --------------------------------------------------------------------------------


async def brand_by_id(conn, brand_id: int, lock: bool = False) -> Row | None:
    stmt = select(brands).where(brands.c.id == brand_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def category_by_id(conn, category_id: int, lock: bool = False) -> Row | None:
    stmt = select(categories).where(categories.c.id == category_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def slug_taken(conn, table, slug: str, except_id: int | None = None) -> bool:
    stmt = select(table.c.id).where(table.c.slug == slug)
    if except_id is not None:
        stmt = stmt.where(table.c.id != except_id)
    return (await conn.execute(stmt.limit(1))).first() is not None


async def existing_skus(conn, skus: list[str]) -> set[str]:
    if not skus:
        return set()
    rows = await conn.execute(select(variants.c.sku).where(variants.c.sku.in_(skus)))
    return {sku for (sku,) in rows}


async def insert_row(conn, table, values: dict[str, Any]) -> int:
    result = await conn.execute(insert(table).values(**values))
    return int(result.inserted_primary_key[0])


async def update_row(conn, table, row_id: int, values: dict[str, Any]) -> None:
    await conn.execute(update(table).where(table.c.id == row_id).values(**values))


async def delete_row(conn, table, row_id: int) -> None:
    await conn.execute(delete(table).where(table.c.id == row_id))


async def refresh_min_price(conn, product_id: int, now: datetime) -> None:
    """The listed price, recomputed by the database from the variants (same transaction)."""
    lowest = (
        select(func.min(variants.c.price_minor))
        .where(variants.c.product_id == product_id, variants.c.active.is_(True))
        .scalar_subquery()
    )
    await conn.execute(
        update(products)
        .where(products.c.id == product_id)
        .values(min_price_minor=lowest, updated_at=now)
    )


async def replace_tags(conn, product_id: int, tags: list[str]) -> None:
    await conn.execute(delete(product_tags).where(product_tags.c.product_id == product_id))
    if tags:
        await conn.execute(
            insert(product_tags), [{"product_id": product_id, "tag": t} for t in tags]
        )


async def variants_of(conn, product_id: int) -> list[Row]:
    return await variants_for(conn, [product_id], active_only=False)


async def variant_by_sku(conn, product_id: int, sku: str) -> Row | None:
    stmt = select(*_VARIANT_COLUMNS).where(
        variants.c.product_id == product_id, variants.c.sku == sku
    )
    return (await conn.execute(stmt.with_for_update())).first()


async def products_of_brand(conn, brand_id: int) -> list[Row]:
    rows = await conn.execute(
        select(products.c.id, products.c.name, products.c.description, products.c.tags).where(
            products.c.brand_id == brand_id
        )
    )
    return list(rows)


async def count_where(conn, table, *conditions) -> int:
    return int(await conn.scalar(select(func.count()).select_from(table).where(*conditions)) or 0)


async def move_subtree(conn, old_prefix: str, new_prefix: str, depth_delta: int) -> None:
    """Rewrites the materialised paths of a category and its descendants after a move."""
    await conn.execute(
        update(categories)
        .where(categories.c.path.like(old_prefix + "%"))
        .values(
            path=literal(new_prefix) + func.substr(categories.c.path, len(old_prefix) + 1),
            depth=categories.c.depth + depth_delta,
        )
    )


async def subtree_max_depth(conn, prefix: str) -> int:
    return int(
        await conn.scalar(
            select(func.max(categories.c.depth)).where(categories.c.path.like(prefix + "%"))
        )
        or 0
    )


async def write_audit(conn, values: dict[str, Any]) -> None:
    await conn.execute(insert(admin_audit).values(**values))


async def audit_entries(
    conn, entity: str | None, entity_id: str | None, limit: int, before_id: int | None
) -> list[Row]:
    stmt = select(admin_audit)
    if entity:
        stmt = stmt.where(admin_audit.c.entity == entity)
    if entity_id:
        stmt = stmt.where(admin_audit.c.entity_id == entity_id)
    if before_id:
        stmt = stmt.where(admin_audit.c.id < before_id)
    return list(await conn.execute(stmt.order_by(admin_audit.c.id.desc()).limit(limit)))
