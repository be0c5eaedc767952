"""Catalog's schema (SQLAlchemy Core). Owned by this service only.

Indexes follow the queries the API offers (docs/catalog.md): the public list always filters on
`status = 'active'` and a listed price, then sorts by one of created_at / min_price_minor /
sort_name with `id` as the tie-breaker, so each sort has a composite `(status, key, id)` index
that serves the status filter, the price range and the keyset seek. Brand and category filters
have `(brand_id, status)` / `(category_id, status)` (which also back their foreign keys), tags
`(tag, product_id)`. Single-column indexes that are a prefix of these are left out.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from vanity_common.db import UTCDateTime, autoincrement_id, new_metadata, timestamp_columns

metadata = new_metadata()


brands = Table(
    "brands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(120), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    *timestamp_columns(),
)

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(120), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("parent_id", Integer, ForeignKey("categories.id"), nullable=True, index=True),
    # Materialised path of ids, "/1/4/17/": a category and all of its descendants are
    # `path LIKE '/1/4/%'` (one indexed prefix range, no recursion).
    Column("path", String(255), nullable=False, index=True),
    Column("depth", Integer, nullable=False),
    Column("position", Integer, nullable=False, server_default="0"),
    *timestamp_columns(),
)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(160), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("sort_name", String(200), nullable=False),  # normalised name for the name sort
    Column("brand_id", Integer, ForeignKey("brands.id"), nullable=False),
    Column("category_id", Integer, ForeignKey("categories.id"), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("images", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    # Lowest price among active variants (NULL when none): the price filter and sort key,
    # recomputed in the same transaction as every variant write.
    Column("min_price_minor", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    # Lower-cased, accent-folded "name brand description tags" for the text query.
    Column("search_text", Text, nullable=False),
    *timestamp_columns(),
    CheckConstraint("status IN ('draft', 'active', 'archived')", name="status_valid"),
    CheckConstraint("min_price_minor IS NULL OR min_price_minor >= 0", name="min_price_valid"),
    Index("ix_products_status_created_at_id", "status", "created_at", "id"),
    Index("ix_products_status_min_price_minor_id", "status", "min_price_minor", "id"),
    Index("ix_products_status_sort_name_id", "status", "sort_name", "id"),
    Index("ix_products_brand_id_status", "brand_id", "status"),
    Index("ix_products_category_id_status", "category_id", "status"),
)

product_tags = Table(
    "product_tags",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Index("ix_product_tags_tag_product_id", "tag", "product_id"),
)

variants = Table(
    "variants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("sku", String(64), nullable=False, unique=True),
    Column("name", String(120), nullable=False),  # shade or size, e.g. "Ruby Woo", "50 ml"
    Column("shade_hex", String(7), nullable=True),
    Column("size", String(32), nullable=True),
    # The variant's own picture (a shade swatch): an image key (images/rules.py) or a URL.
    Column("image", String(500), nullable=True),
    Column("price_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("position", Integer, nullable=False, server_default="0"),
    *timestamp_columns(),
    CheckConstraint("price_minor >= 0", name="price_non_negative"),
    Index("ix_variants_product_id_active_price_minor", "product_id", "active", "price_minor"),
)

admin_audit = Table(
    "admin_audit",
    metadata,
    autoincrement_id(),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(64), nullable=False),  # principal user id
    Column("action", String(64), nullable=False),  # e.g. "product.update"
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("request_id", String(200), nullable=True),
    Index("ix_admin_audit_entity_entity_id", "entity", "entity_id"),
)
