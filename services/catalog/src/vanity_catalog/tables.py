"""Catalog's schema (SQLAlchemy Core). Owned by this service only.

Indexes follow the queries the API offers (docs/catalog.md): the public list always filters on
`status = 'active'` and a listed price, then sorts by one of created_at / min_price_minor /
sort_name with `id` as the tie-breaker, so each sort has a composite `(status, key, id)` index
that serves the status filter, the price range and the keyset seek. Brand and category filters
have `(brand_id, status)` / `(category_id, status)` (which also back their foreign keys), tags
`(tag, product_id)`. Single-column indexes that are a prefix of these are left out.
"""

from __future__ import annotations

import sqlalchemy as sa
from vanity_common.db import (
    UTCDateTime,
    autoincrement_id,
    new_metadata,
    timestamp_columns,
)

metadata = new_metadata()


brands = sa.Table(
    "brands",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(120), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    *timestamp_columns(),
)

categories = sa.Table(
    "categories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(120), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column(
        "parent_id",
        sa.Integer,
        sa.ForeignKey("categories.id"),
        nullable=True,
        index=True,
    ),
    # Materialised path of ids, "/1/4/17/": a category and all of its descendants are
    # `path LIKE '/1/4/%'` (one indexed prefix range, no recursion).
    sa.Column("path", sa.String(255), nullable=False, index=True),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    *timestamp_columns(),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(160), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sort_name", sa.String(200), nullable=False),  # normalised name for the name sort
    sa.Column("brand_id", sa.Integer, sa.ForeignKey("brands.id"), nullable=False),
    sa.Column("category_id", sa.Integer, sa.ForeignKey("categories.id"), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("images", sa.JSON, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # Lowest price among active variants (NULL when none): the price filter and sort key,
    # recomputed in the same transaction as every variant write.
    sa.Column("min_price_minor", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    # Lower-cased, accent-folded "name brand description tags" for the text query.
    sa.Column("search_text", sa.Text, nullable=False),
    *timestamp_columns(),
    sa.CheckConstraint("status IN ('draft', 'active', 'archived')", name="status_valid"),
    sa.CheckConstraint("min_price_minor IS NULL OR min_price_minor >= 0", name="min_price_valid"),
    sa.Index("ix_products_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_products_status_min_price_minor_id", "status", "min_price_minor", "id"),
    sa.Index("ix_products_status_sort_name_id", "status", "sort_name", "id"),
    sa.Index("ix_products_brand_id_status", "brand_id", "status"),
    sa.Index("ix_products_category_id_status", "category_id", "status"),
)

product_tags = sa.Table(
    "product_tags",
    metadata,
    sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Index("ix_product_tags_tag_product_id", "tag", "product_id"),
)

variants = sa.Table(
    "variants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),  # shade or size, e.g. "Ruby Woo", "50 ml"
    sa.Column("shade_hex", sa.String(7), nullable=True),
    sa.Column("size", sa.String(32), nullable=True),
    # The variant's own picture (a shade swatch): an image key (images/rules.py) or a URL.
    sa.Column("image", sa.String(500), nullable=True),
    sa.Column("price_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    *timestamp_columns(),
    sa.CheckConstraint("price_minor >= 0", name="price_non_negative"),
    sa.Index(
        "ix_variants_product_id_active_price_minor",
        "product_id",
        "active",
        "price_minor",
    ),
)

admin_audit = sa.Table(
    "admin_audit",
    metadata,
    autoincrement_id(),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),  # principal user id
    sa.Column("action", sa.String(64), nullable=False),  # e.g. "product.update"
    sa.Column("entity", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),
    sa.Column("request_id", sa.String(200), nullable=True),
    sa.Index("ix_admin_audit_entity_entity_id", "entity", "entity_id"),
)
