"""Row -> JSON-ready dict translations (one place, shared by public and admin answers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from vanity_catalog.images.rules import public_url


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def money(amount: int | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else {"amount_minor": int(amount), "currency": currency}


def variant(row: Row, admin: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sku": row.sku,
        "name": row.name,
        "shade_hex": row.shade_hex,
        "size": row.size,
        "price": money(row.price_minor, row.currency),
        "image": public_url(row.image) if row.image else None,  # the shade's own picture
    }
    if admin:
        out["active"] = bool(row.active)
        out["position"] = row.position
    return out


def list_item(row: Row, row_variants: list[Row]) -> dict[str, Any]:
    images = row.images or []
    return {
        "id": row.id,
        "slug": row.slug,
        "name": row.name,
        "brand": {"slug": row.brand_slug, "name": row.brand_name},
        "category": {"slug": row.category_slug, "name": row.category_name},
        "image": public_url(images[0]) if images else None,
        "price": money(row.min_price_minor, row.currency),
        "tags": row.tags or [],
        "variant_count": len(row_variants),
        "shades": [
            {"sku": v.sku, "name": v.name, "shade_hex": v.shade_hex}
            for v in row_variants
            if v.shade_hex
        ],
        "created_at": _iso(row.created_at),
    }


def product_detail(
    row: Row, row_variants: list[Row], breadcrumb: list[dict[str, str]], admin: bool = False
) -> dict[str, Any]:
    out = {
        "id": row.id,
        "slug": row.slug,
        "name": row.name,
        "brand": {"slug": row.brand_slug, "name": row.brand_name},
        "category": {"slug": row.category_slug, "name": row.category_name},
        "breadcrumb": breadcrumb,
        "description": row.description,
        "images": [public_url(ref) for ref in row.images or []],
        "attributes": row.attributes or {},
        "tags": row.tags or [],
        "price": money(row.min_price_minor, row.currency),
        "variants": [variant(v, admin) for v in row_variants],
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }
    if admin:
        out["status"] = row.status
        out["brand"]["id"] = row.brand_id
        out["category"]["id"] = row.category_id
    return out


def brand(row: Row, product_count: int | None = None) -> dict[str, Any]:
    out = {"id": row.id, "slug": row.slug, "name": row.name, "description": row.description}
    if product_count is not None:
        out["product_count"] = product_count
    return out


def category_tree(rows: list[Row]) -> list[dict[str, Any]]:
    nodes: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for row in rows:  # ordered by depth, so a parent is always seen before its children
        node = {
            "id": row.id,
            "slug": row.slug,
            "name": row.name,
            "depth": row.depth,
            "children": [],
        }
        nodes[row.id] = node
        parent = nodes.get(row.parent_id) if row.parent_id else None
        (parent["children"] if parent else roots).append(node)
    return roots


def category(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "slug": row.slug,
        "name": row.name,
        "parent_id": row.parent_id,
        "depth": row.depth,
        "position": row.position,
    }


def audit(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": _iso(row.at),
        "actor": row.actor,
        "action": row.action,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "changes": row.changes,
        "request_id": row.request_id,
    }
