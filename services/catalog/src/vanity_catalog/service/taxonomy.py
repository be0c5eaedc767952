"""Admin use cases for brands and categories: one unit of work each (writer.py), audit row and
cache invalidation included."""

from __future__ import annotations

from typing import Any

from vanity_common.auth import Principal
from vanity_common.errors import Conflict, FieldError, InvalidArgument, NotFound

from vanity_catalog import repository as repo
from vanity_catalog import views
from vanity_catalog.commands import CreateBrand, CreateCategory, UpdateBrand, UpdateCategory
from vanity_catalog.domain import (
    category_path,
    changes,
    child_depth,
    move_problems,
    parent_problems,
    search_text,
    slugify,
)
from vanity_catalog.service.writer import AdminWriter, reject_nulls
from vanity_catalog.tables import brands, categories, products


def _invalid_category(problems: list[FieldError]) -> InvalidArgument:
    return InvalidArgument("Invalid category.", errors=problems)


def _slug(slug: str | None, name: str, what: str) -> str:
    """The slug given, else one made of the name (which may have no letter or digit left)."""
    made = slug or slugify(name)
    if not made:
        raise InvalidArgument(f"Invalid {what}.", errors=[FieldError("slug", "required")])
    return made


def _unknown_parent() -> InvalidArgument:
    return _invalid_category([FieldError("parent_id", "unknown category")])


class TaxonomyAdmin:
    def __init__(self, writer: AdminWriter) -> None:
        self.writer = writer
        self.db = writer.db

    # ---- brands

    async def list_brands(self) -> dict[str, Any]:
        async with self.db.connect() as conn:
            rows = await repo.all_brands(conn)
        return {"items": [views.brand(r) for r in rows]}

    async def create_brand(self, actor: Principal, command: CreateBrand) -> dict[str, Any]:
        slug = _slug(command.slug, command.name, "brand")

        async def work(conn):
            await self.writer.ensure_slug_free(conn, brands, slug)
            now = self.writer.clock()
            values = {"slug": slug, "name": command.name, "description": command.description}
            brand_id = await repo.insert_row(
                conn, brands, {**values, "created_at": now, "updated_at": now}
            )
            await self.writer.audit(conn, actor, "brand.create", "brand", brand_id, values)
            return views.brand(await repo.brand_by_id(conn, brand_id))

        return await self.writer.write(work)

    async def update_brand(self, actor: Principal, command: UpdateBrand) -> dict[str, Any]:
        brand_id = command.brand_id
        fields = command.sent()
        reject_nulls(fields)

        async def work(conn):
            before = await repo.brand_by_id(conn, brand_id, lock=True)
            if before is None:
                raise NotFound(f"No brand {brand_id}.", reason="BRAND_NOT_FOUND")
            if "slug" in fields and fields["slug"] != before.slug:
                await self.writer.ensure_slug_free(conn, brands, fields["slug"], brand_id)
            changed = changes(before, fields)
            if changed:
                now = self.writer.clock()
                await repo.update_row(
                    conn, brands, brand_id, {**{k: fields[k] for k in changed}, "updated_at": now}
                )
                if "name" in changed:  # the brand name is part of every product's search text
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
            await self.writer.audit(conn, actor, "brand.update", "brand", brand_id, changed)
            return views.brand(await repo.brand_by_id(conn, brand_id))

        return await self.writer.write(work)

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
            await self.writer.audit(
                conn, actor, "brand.delete", "brand", brand_id, views.brand(before)
            )

        await self.writer.write(work)

    # ---- categories

    async def list_categories(self) -> dict[str, Any]:
        async with self.db.connect() as conn:
            rows = await repo.all_categories(conn)
        return {"items": [views.category(r) for r in rows]}

    async def create_category(self, actor: Principal, command: CreateCategory) -> dict[str, Any]:
        slug = _slug(command.slug, command.name, "category")

        async def work(conn):
            parent = None
            if command.parent_id is not None:
                parent = await repo.category_by_id(conn, command.parent_id)
                if parent is None:
                    raise _unknown_parent()
                problems = parent_problems(parent.depth)
                if problems:
                    raise _invalid_category(problems)
            await self.writer.ensure_slug_free(conn, categories, slug)
            now = self.writer.clock()
            values = {
                "slug": slug,
                "name": command.name,
                "parent_id": command.parent_id,
                "position": command.position,
            }
            category_id = await repo.insert_row(
                conn,
                categories,
                {
                    **values,
                    "path": "",
                    "depth": child_depth(parent.depth if parent else None),
                    "created_at": now,
                    "updated_at": now,
                },
            )
            path = category_path(parent.path if parent else None, category_id)
            await repo.update_row(conn, categories, category_id, {"path": path})
            await self.writer.audit(conn, actor, "category.create", "category", category_id, values)
            return views.category(await repo.category_by_id(conn, category_id))

        return await self.writer.write(work)

    async def update_category(self, actor: Principal, command: UpdateCategory) -> dict[str, Any]:
        category_id = command.category_id
        fields = command.sent()
        reject_nulls({k: v for k, v in fields.items() if k != "parent_id"})

        async def work(conn):
            before = await repo.category_by_id(conn, category_id, lock=True)
            if before is None:
                raise NotFound(f"No category {category_id}.", reason="CATEGORY_NOT_FOUND")
            if "slug" in fields and fields["slug"] != before.slug:
                await self.writer.ensure_slug_free(conn, categories, fields["slug"], category_id)
            changed = changes(before, fields)
            if "parent_id" in changed:
                await self._move_category(conn, before, fields["parent_id"])
            simple = {k: fields[k] for k in changed if k != "parent_id"}
            if changed:
                await repo.update_row(
                    conn,
                    categories,
                    category_id,
                    {
                        **simple,
                        "parent_id": fields.get("parent_id", before.parent_id),
                        "updated_at": self.writer.clock(),
                    },
                )
            await self.writer.audit(
                conn, actor, "category.update", "category", category_id, changed
            )
            return views.category(await repo.category_by_id(conn, category_id))

        return await self.writer.write(work)

    @staticmethod
    async def _move_category(conn, category, new_parent_id: int | None) -> None:
        parent = None
        if new_parent_id is not None:
            parent = await repo.category_by_id(conn, new_parent_id)
            if parent is None:
                raise _unknown_parent()
        new_prefix = category_path(parent.path if parent else None, category.id)
        delta = child_depth(parent.depth if parent else None) - category.depth
        subtree_depth = await repo.subtree_max_depth(conn, category.path)
        problems = move_problems(
            category.path, parent.path if parent else None, subtree_depth + delta
        )
        if problems:
            raise _invalid_category(problems)
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
            await self.writer.audit(
                conn, actor, "category.delete", "category", category_id, views.category(before)
            )

        await self.writer.write(work)
