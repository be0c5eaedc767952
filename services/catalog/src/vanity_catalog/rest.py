"""Catalog's public REST API and admin API (thin: translate and delegate)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from starlette.responses import Response
from vanity_common.app import container, json_response, service_container
from vanity_common.auth import Principal, require_admin
from vanity_common.types import MAX_DB_INT, DbIdPath, DbIdQuery

from vanity_catalog.bootstrap import CatalogContainer
from vanity_catalog.commands import AddVariant
from vanity_catalog.domain import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Sort
from vanity_catalog.schemas import (
    BrandCreate,
    BrandUpdate,
    CategoryCreate,
    CategoryUpdate,
    ProductCreate,
    ProductUpdate,
    VariantCreate,
    VariantUpdate,
)
from vanity_catalog.service import Body, BrowseService, product_query

CacheHit = Callable[[Request], Awaitable[Response | None]]


class CachedReadRoute(APIRoute):
    """A public read whose cache hit is answered before FastAPI parses and validates the
    parameters (that parsing was the largest catalog cost of a warm list request).

    An endpoint opts in with `@cache_hit(fn)`: `fn(request)` returns the response on a hit and
    None on a miss, and then the endpoint runs as usual (validation and its 422s, the database,
    the cache fill). Routing, middleware, telemetry, metrics and OpenAPI are those of the
    route itself.
    """

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        hit: CacheHit | None = getattr(self.endpoint, "cache_hit", None)
        if hit is None:
            return handler

        async def app(request: Request) -> Response:
            response = await hit(request)
            if response is None:
                response = await handler(request)
            return response

        return app


def cache_hit(hit: CacheHit):
    def decorate(endpoint):
        endpoint.cache_hit = hit
        return endpoint

    return decorate


router = APIRouter(prefix="/api/v1", tags=["catalog"], route_class=CachedReadRoute)
admin = APIRouter(prefix="/api/v1/admin", tags=["catalog admin"])

Admin = Annotated[Principal, Depends(require_admin("catalog"))]
_NO_STORE = {"Cache-Control": "no-store"}


Container = Annotated[CatalogContainer, Depends(container)]


def _browse(request: Request) -> BrowseService:
    """Reads outside dependency injection (the cache-hit route class) reach the container so."""
    return service_container(request).browse


def _cached_response(request: Request, body: Body) -> Response:
    headers = {"ETag": body.etag, "Cache-Control": service_container(request).cache_control}
    inm = request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or body.etag in [t.strip() for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(body.content, media_type="application/json", headers=headers)


# ---- public ------------------------------------------------------------------------------------


async def _hit(request: Request, key: str | None) -> Response | None:
    if key is None:
        return None
    body, found = await _browse(request).lookup(key)
    if body is None:
        request.state.catalog_lookup = found  # the miss path stores under this generation
        return None
    return _cached_response(request, body)


def _missed(request: Request):
    return getattr(request.state, "catalog_lookup", None)


async def _list_hit(request: Request) -> Response | None:
    return await _hit(request, BrowseService.list_key(request.scope["query_string"]))


async def _detail_hit(request: Request) -> Response | None:
    return await _hit(request, BrowseService.detail_key(request.path_params["slug"]))


@router.get("/products")
@cache_hit(_list_hit)
async def list_products(
    request: Request,
    brand: Annotated[list[str] | None, Query(description="brand slug; repeatable")] = None,
    category: Annotated[
        str | None, Query(description="category slug, sub-categories included")
    ] = None,
    min_price: Annotated[int | None, Query(ge=0, le=MAX_DB_INT, description="minor units")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=MAX_DB_INT, description="minor units")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[list[str] | None, Query(description="tag; repeatable, all must match")] = None,
    sort: Sort = Sort.NEWEST,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
):
    query = product_query(
        brand=brand,
        category=category,
        min_price=min_price,
        max_price=max_price,
        q=q,
        tags=tag,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    body = await _browse(request).browse_products(
        query, request.scope["query_string"], _missed(request)
    )
    return _cached_response(request, body)


@router.get("/products/{slug}")
@cache_hit(_detail_hit)
async def get_product(request: Request, slug: str):
    body = await _browse(request).product_detail(slug, _missed(request))
    return _cached_response(request, body)


async def _brands_hit(request: Request) -> Response | None:
    return await _hit(request, "brands")


async def _categories_hit(request: Request) -> Response | None:
    return await _hit(request, "categories")


@router.get("/brands")
@cache_hit(_brands_hit)
async def list_brands(request: Request):
    return _cached_response(request, await _browse(request).brand_list(_missed(request)))


@router.get("/categories")
@cache_hit(_categories_hit)
async def category_tree(request: Request):
    return _cached_response(request, await _browse(request).category_tree(_missed(request)))


# ---- admin -------------------------------------------------------------------------------------


@admin.get("/products")
async def admin_list_products(
    services: Container,
    _: Admin,
    status: Annotated[list[Literal["draft", "active", "archived"]] | None, Query()] = None,
    brand: Annotated[list[str] | None, Query()] = None,
    category: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Sort = Sort.NEWEST,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
):
    query = product_query(
        brand=brand, category=category, q=q, sort=sort, limit=limit, cursor=cursor
    )
    statuses = tuple(status or ("draft", "active", "archived"))
    result = await services.products.list_products(query, statuses)
    return json_response(result, headers=_NO_STORE)


@admin.post("/products", status_code=201)
async def admin_create_product(services: Container, principal: Admin, body: ProductCreate):
    result = await services.products.create_product(principal, body.command())
    return json_response(result, status_code=201, headers=_NO_STORE)


@admin.get("/products/{product_id}")
async def admin_get_product(services: Container, _: Admin, product_id: DbIdPath):
    return json_response(await services.products.get_product(product_id), headers=_NO_STORE)


@admin.patch("/products/{product_id}")
async def admin_update_product(
    services: Container, principal: Admin, product_id: DbIdPath, body: ProductUpdate
):
    result = await services.products.update_product(principal, body.command(product_id))
    return json_response(result, headers=_NO_STORE)


@admin.delete("/products/{product_id}")
async def admin_archive_product(services: Container, principal: Admin, product_id: DbIdPath):
    """Archives (soft delete): orders keep pointing at the product's SKUs."""
    result = await services.products.archive_product(principal, product_id)
    return json_response(result, headers=_NO_STORE)


@admin.post("/products/{product_id}/variants", status_code=201)
async def admin_add_variant(
    services: Container, principal: Admin, product_id: DbIdPath, body: VariantCreate
):
    result = await services.products.add_variant(
        principal, AddVariant(product_id=product_id, variant=body.command())
    )
    return json_response(result, status_code=201, headers=_NO_STORE)


@admin.patch("/products/{product_id}/variants/{sku}")
async def admin_update_variant(
    services: Container, principal: Admin, product_id: DbIdPath, sku: str, body: VariantUpdate
):
    result = await services.products.update_variant(principal, body.command(product_id, sku))
    return json_response(result, headers=_NO_STORE)


@admin.delete("/products/{product_id}/variants/{sku}")
async def admin_deactivate_variant(
    services: Container, principal: Admin, product_id: DbIdPath, sku: str
):
    """Deactivates (soft delete): the SKU stays known to carts and orders, but not on sale."""
    result = await services.products.deactivate_variant(principal, product_id, sku)
    return json_response(result, headers=_NO_STORE)


@admin.get("/brands")
async def admin_list_brands(services: Container, _: Admin):
    return json_response(await services.taxonomy.list_brands(), headers=_NO_STORE)


@admin.post("/brands", status_code=201)
async def admin_create_brand(services: Container, principal: Admin, body: BrandCreate):
    result = await services.taxonomy.create_brand(principal, body.command())
    return json_response(result, status_code=201, headers=_NO_STORE)


@admin.patch("/brands/{brand_id}")
async def admin_update_brand(
    services: Container, principal: Admin, brand_id: DbIdPath, body: BrandUpdate
):
    result = await services.taxonomy.update_brand(principal, body.command(brand_id))
    return json_response(result, headers=_NO_STORE)


@admin.delete("/brands/{brand_id}", status_code=204)
async def admin_delete_brand(services: Container, principal: Admin, brand_id: DbIdPath):
    await services.taxonomy.delete_brand(principal, brand_id)
    return Response(status_code=204)


@admin.get("/categories")
async def admin_list_categories(services: Container, _: Admin):
    return json_response(await services.taxonomy.list_categories(), headers=_NO_STORE)


@admin.post("/categories", status_code=201)
async def admin_create_category(services: Container, principal: Admin, body: CategoryCreate):
    result = await services.taxonomy.create_category(principal, body.command())
    return json_response(result, status_code=201, headers=_NO_STORE)


@admin.patch("/categories/{category_id}")
async def admin_update_category(
    services: Container, principal: Admin, category_id: DbIdPath, body: CategoryUpdate
):
    result = await services.taxonomy.update_category(principal, body.command(category_id))
    return json_response(result, headers=_NO_STORE)


@admin.delete("/categories/{category_id}", status_code=204)
async def admin_delete_category(services: Container, principal: Admin, category_id: DbIdPath):
    await services.taxonomy.delete_category(principal, category_id)
    return Response(status_code=204)


@admin.get("/audit")
async def admin_audit_log(
    services: Container,
    _: Admin,
    entity: Literal["product", "variant", "brand", "category"] | None = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: DbIdQuery = None,
):
    result = await services.writer.audit_log(entity, entity_id, limit, before)
    return json_response(result, headers=_NO_STORE)
