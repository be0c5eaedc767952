"""Admin use cases for products and their variants: one unit of work each (writer.py), audit
row and cache invalidation included; they return the admin view of the product."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from vanity_common.auth import Principal
from vanity_common.errors import Conflict, FieldError, InvalidArgument, NotFound

from vanity_catalog import repository as repo
from vanity_catalog import views
from vanity_catalog.commands import (
    AddVariant,
    CreateProduct,
    NewVariant,
    UpdateProduct,
    UpdateVariant,
)
from vanity_catalog.domain import (
    changes,
    currency_problem,
    new_variants_problems,
    search_text,
    slugify,
    sort_name,
    status_problems,
    variant_activity_problems,
)
from vanity_catalog.images.rules import stored_ref
from vanity_catalog.service.browse import breadcrumb, product_page
from vanity_catalog.service.writer import AdminWriter, reject_nulls
from vanity_catalog.tables import products, variants


def _no_product(product_id: int) -> NotFound:
    return NotFound(f"No product {product_id}.", reason="PRODUCT_NOT_FOUND")


def _present(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


def _variant_values(product_id: int, v: NewVariant, now: datetime) -> dict:
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


async def _check_skus_free(conn, skus: list[str], field_pattern: str) -> None:
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


async def admin_product_view(conn, product_id: int) -> dict[str, Any]:
    row = await repo.product_by_id(conn, product_id)
    if row is None:
        raise _no_product(product_id)
    row_variants = await repo.variants_of(conn, product_id)
    crumbs = await breadcrumb(conn, row.category_path)
    return views.product_detail(row, row_variants, crumbs, admin=True)


class ProductAdmin:
    def __init__(self, writer: AdminWriter, currency: str = "EUR") -> None:
        self.writer = writer
        self.db = writer.db
        self.currency = currency

    # ---- reads

    async def list_products(
        self, query: repo.ProductQuery, statuses: tuple[str, ...]
    ) -> dict[str, Any]:
        query = replace(query, statuses=statuses, listed_only=False)
        return await product_page(self.db, query, admin=True)

    async def get_product(self, product_id: int) -> dict[str, Any]:
        async with self.db.connect() as conn:
            return await admin_product_view(conn, product_id)

    # ---- products

    async def create_product(self, actor: Principal, command: CreateProduct) -> dict[str, Any]:
        async def work(conn):
            errors: list[FieldError] = []
            brand = await repo.brand_by_id(conn, command.brand_id)
            if brand is None:
                errors.append(FieldError("brand_id", "unknown brand"))
            if await repo.category_by_id(conn, command.category_id) is None:
                errors.append(FieldError("category_id", "unknown category"))
            errors += new_variants_problems(
                ((v.sku, v.currency, v.active) for v in command.variants),
                command.status,
                self.currency,
            )
            if errors:
                raise InvalidArgument("Invalid product.", errors=errors)
            slug = command.slug or slugify(f"{brand.name} {command.name}")
            await self.writer.ensure_slug_free(conn, products, slug)
            skus = [v.sku for v in command.variants]
            await _check_skus_free(conn, skus, "variants[{i}].sku")
            now = self.writer.clock()
            product_id = await repo.insert_row(
                conn,
                products,
                {
                    "slug": slug,
                    "name": command.name,
                    "sort_name": sort_name(command.name),
                    "brand_id": command.brand_id,
                    "category_id": command.category_id,
                    "description": command.description,
                    "images": [stored_ref(url) for url in command.images],
                    "attributes": _present(command.attributes),
                    "tags": command.tags,
                    "status": command.status,
                    "min_price_minor": None,
                    "currency": self.currency,
                    "search_text": search_text(
                        command.name, brand.name, command.description, command.tags
                    ),
                    "created_at": now,
                    "updated_at": now,
                },
            )
            for v in command.variants:
                await repo.insert_row(conn, variants, _variant_values(product_id, v, now))
            await repo.replace_tags(conn, product_id, command.tags)
            await repo.refresh_min_price(conn, product_id, now)
            await self.writer.audit(
                conn, actor, "product.create", "product", product_id, asdict(command)
            )
            return await admin_product_view(conn, product_id)

        return await self.writer.write(work)

    async def update_product(
        self, actor: Principal, command: UpdateProduct, action: str = "product.update"
    ) -> dict[str, Any]:
        product_id = command.product_id
        fields = command.sent()
        reject_nulls(fields)
        if "attributes" in fields:
            fields["attributes"] = _present(fields["attributes"])
        if fields.get("images") is not None:  # our own image URLs are kept as their keys
            fields["images"] = [stored_ref(url) for url in fields["images"]]

        async def work(conn):
            if not await repo.lock_product(conn, product_id):
                raise _no_product(product_id)
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
            errors += status_problems(fields.get("status"), before.min_price_minor is not None)
            if errors:
                raise InvalidArgument("Invalid product.", errors=errors)
            if "slug" in fields and fields["slug"] != before.slug:
                await self.writer.ensure_slug_free(conn, products, fields["slug"], product_id)
            changed = changes(before, fields)
            values = {k: fields[k] for k in changed}
            if "name" in values:
                values["sort_name"] = sort_name(values["name"])
            if changed.keys() & {"name", "description", "tags", "brand_id"}:
                values["search_text"] = search_text(
                    fields.get("name", before.name),
                    brand_name,
                    fields.get("description", before.description),
                    fields.get("tags", before.tags or []),
                )
            if "tags" in changed:
                await repo.replace_tags(conn, product_id, fields["tags"])
            if values:
                values["updated_at"] = self.writer.clock()
                await repo.update_row(conn, products, product_id, values)
            await self.writer.audit(conn, actor, action, "product", product_id, changed)
            return await admin_product_view(conn, product_id)

        return await self.writer.write(work)

    async def archive_product(self, actor: Principal, product_id: int) -> dict[str, Any]:
        return await self.update_product(
            actor,
            UpdateProduct(product_id=product_id, status="archived"),
            action="product.archive",
        )

    # ---- variants

    async def add_variant(self, actor: Principal, command: AddVariant) -> dict[str, Any]:
        product_id, variant = command.product_id, command.variant
        errors = currency_problem(variant.currency, self.currency, "currency")
        if errors:
            raise InvalidArgument("Invalid variant.", errors=errors)

        async def work(conn):
            if not await repo.lock_product(conn, product_id):
                raise _no_product(product_id)
            await _check_skus_free(conn, [variant.sku], "sku")
            now = self.writer.clock()
            await repo.insert_row(conn, variants, _variant_values(product_id, variant, now))
            await repo.refresh_min_price(conn, product_id, now)
            await self.writer.audit(
                conn, actor, "variant.create", "variant", variant.sku, asdict(variant)
            )
            return await admin_product_view(conn, product_id)

        return await self.writer.write(work)

    async def update_variant(
        self, actor: Principal, command: UpdateVariant, action: str = "variant.update"
    ) -> dict[str, Any]:
        product_id, sku = command.product_id, command.sku
        fields = command.sent()
        reject_nulls(fields)
        errors = currency_problem(fields.get("currency"), self.currency, "currency")
        if errors:
            raise InvalidArgument("Invalid variant.", errors=errors)
        if fields.get("shade_hex"):
            fields["shade_hex"] = fields["shade_hex"].upper()

        async def work(conn):
            if not await repo.lock_product(conn, product_id):
                raise _no_product(product_id)
            before = await repo.variant_by_sku(conn, product_id, sku)
            if before is None:
                raise NotFound(f"No variant {sku} on product {product_id}.", reason="SKU_NOT_FOUND")
            changed = changes(before, fields)
            if "active" in changed:  # the product row is locked: no concurrent deactivation
                product = await repo.product_by_id(conn, product_id)
                siblings = [
                    (v.sku, bool(v.active)) for v in await repo.variants_of(conn, product_id)
                ]
                problems = variant_activity_problems(
                    product.status, siblings, sku, fields["active"]
                )
                if problems:
                    raise InvalidArgument("Invalid variant.", errors=problems)
            now = self.writer.clock()
            if changed:
                await repo.update_row(
                    conn,
                    variants,
                    before.id,
                    {**{k: fields[k] for k in changed}, "updated_at": now},
                )
                await repo.refresh_min_price(conn, product_id, now)
            await self.writer.audit(conn, actor, action, "variant", sku, changed)
            return await admin_product_view(conn, product_id)

        return await self.writer.write(work)

    async def deactivate_variant(self, actor: Principal, product_id: int, sku: str):
        return await self.update_variant(
            actor,
            UpdateVariant(product_id=product_id, sku=sku, active=False),
            action="variant.deactivate",
        )
