"""Cart's public REST API (thin: translate and delegate).

Who: a signed-in user (`Authorization: Bearer`, verified here whatever the gateway did) or a
guest holding an opaque cart token (`X-Cart-Token`, issued by the first write). A signed-in
request that still carries a guest token merges that guest cart into the user's, once.

Every answer is the whole cart with `ETag: "<version>"`; writes accept `If-Match` (412 when the
cart moved on). `POST /cart/items` also accepts an `Idempotency-Key`: a retry gets the first
answer again instead of adding twice. A guest answer carries the token to keep in
`X-Cart-Token` and `cart_token`; a 200 without one tells the client to forget its token.
Contract and errors: docs/cart.md.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from vanity_common.app import container, json_response
from vanity_common.auth import OptionalUser
from vanity_common.errors import FieldError, InvalidArgument
from vanity_common.idempotency import caller_scope, idempotent

from vanity_cart import domain
from vanity_cart.bootstrap import CartContainer
from vanity_cart.service import CartView, LineView, Money, Shopper

router = APIRouter(prefix="/api/v1", tags=["cart"])

CART_TOKEN_HEADER = "X-Cart-Token"
# What `new_guest_token` produces (base64url); anything else cannot be a token of ours.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")

Sku = Annotated[str, Path(min_length=1, max_length=domain.MAX_SKU_LENGTH)]
CartToken = Annotated[str | None, Header(alias=CART_TOKEN_HEADER, max_length=256)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64)]
Quantity = Annotated[int, Field(strict=True, description="whole units")]
Container = Annotated[CartContainer, Depends(container)]


class AddItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=domain.MAX_SKU_LENGTH)
    quantity: Quantity = 1


class SetQuantity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: Quantity = Field(description="0 removes the line")


def _shopper(user: OptionalUser, token: str | None) -> Shopper:
    token = (token or "").strip()
    return Shopper(
        user_id=user.user_id if user else None,
        guest_token=token if _TOKEN_SHAPE.match(token) else None,
    )


def _idempotency_scope(request: Request) -> str:
    """Whose key it is: the user, else the guest cart (by its token's hash), else the address
    (a guest's first add, before it has a token)."""
    token = request.headers.get(CART_TOKEN_HEADER, "").strip()
    if getattr(request.state, "principal", None) is None and _TOKEN_SHAPE.match(token):
        return f"guest:{domain.hash_guest_token(token)[:40]}"
    return caller_scope(request)


def _version(if_match: str | None) -> int | None:
    try:
        return domain.parse_version(if_match)
    except domain.InvalidInput as exc:
        raise InvalidArgument(
            str(exc), reason="VALIDATION_FAILED", errors=[FieldError("If-Match", str(exc))]
        ) from exc


def _money(m: Money | None) -> dict | None:
    return None if m is None else {"amount_minor": m.amount_minor, "currency": m.currency}


def _line(line: LineView) -> dict:
    a = line.availability
    return {
        "sku": line.sku,
        "name": line.name,
        "brand": line.brand,
        "variant_name": line.variant_name,
        "product_slug": line.product_slug,
        "image_url": line.image_url,
        "quantity": line.quantity,
        "unit_price": _money(line.unit_price),
        "line_total": _money(line.line_total),
        "on_sale": line.on_sale,
        "availability": None
        if a is None
        else {"state": a.state.value, "buyable_quantity": a.buyable_quantity, "short": a.short},
        "live": line.live,
    }


def _cart(services: CartContainer, view: CartView) -> dict:
    limits = services.cart.limits
    return {
        "lines": [_line(line) for line in view.lines],
        "item_count": view.item_count,
        "line_count": len(view.lines),
        "subtotal": _money(view.subtotal),
        "version": view.version,
        "locked": view.locked_by is not None,
        "cart_token": view.cart_token,
        "merged": view.merged,
        "degraded": list(view.degraded),
        "limits": {
            "max_lines": limits.max_lines,
            "max_quantity_per_line": limits.max_quantity_per_line,
        },
    }


def _respond(services: CartContainer, view: CartView):
    headers = {
        "ETag": f'"{view.version}"',
        "Cache-Control": "private, no-store",
        "Vary": f"Authorization, {CART_TOKEN_HEADER}",
    }
    if view.cart_token:
        headers[CART_TOKEN_HEADER] = view.cart_token
    return json_response(_cart(services, view), headers=headers)


@router.get("/cart")
async def get_cart(services: Container, user: OptionalUser, token: CartToken = None):
    return _respond(services, await services.cart.get_cart(_shopper(user, token)))


@router.post("/cart/items")
@idempotent(required=False, scope=_idempotency_scope)
async def add_item(
    services: Container,
    user: OptionalUser,
    body: Annotated[AddItem, Body()],
    token: CartToken = None,
    if_match: IfMatch = None,
):
    view = await services.cart.add_item(
        _shopper(user, token), body.sku, body.quantity, _version(if_match)
    )
    return _respond(services, view)


@router.patch("/cart/items/{sku}")
async def set_quantity(
    services: Container,
    user: OptionalUser,
    sku: Sku,
    body: Annotated[SetQuantity, Body()],
    token: CartToken = None,
    if_match: IfMatch = None,
):
    view = await services.cart.set_quantity(
        _shopper(user, token), sku, body.quantity, _version(if_match)
    )
    return _respond(services, view)


@router.delete("/cart/items/{sku}")
async def remove_item(
    services: Container,
    user: OptionalUser,
    sku: Sku,
    token: CartToken = None,
    if_match: IfMatch = None,
):
    view = await services.cart.remove_item(_shopper(user, token), sku, _version(if_match))
    return _respond(services, view)


@router.delete("/cart")
async def clear_cart(
    services: Container, user: OptionalUser, token: CartToken = None, if_match: IfMatch = None
):
    view = await services.cart.clear(_shopper(user, token), _version(if_match))
    return _respond(services, view)
