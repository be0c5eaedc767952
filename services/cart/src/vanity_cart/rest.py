"""Cart's public REST API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from vanity_common.app import json_response
from vanity_common.auth import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["cart"])


@router.get("/cart")
async def get_cart(request: Request, user: CurrentUser):
    cart = await request.app.state.cart.get_cart(user.user_id)
    return json_response(
        {
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in cart.lines],
            "item_count": cart.item_count,
            "version": cart.version,
            "locked": cart.locked_by is not None,
        },
        headers={"Cache-Control": "private, no-store"},
    )
