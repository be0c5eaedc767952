"""Checkout's public REST API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from vanity_common.app import container, json_response
from vanity_common.auth import CurrentUser

from vanity_checkout.bootstrap import CheckoutContainer
from vanity_checkout.domain import Order

router = APIRouter(prefix="/api/v1", tags=["orders"])
Container = Annotated[CheckoutContainer, Depends(container)]


def order_json(order: Order) -> dict:
    return {
        "id": order.id,
        "status": order.status.value,
        "total": {"amount_minor": order.total_minor, "currency": order.currency},
        "created_at": order.created_at.isoformat(),
        "payment_id": order.payment_id,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": {"amount_minor": line.unit_price_minor, "currency": line.currency},
            }
            for line in order.lines
        ],
    }


@router.get("/orders")
async def list_orders(
    services: Container, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=100)] = 20
):
    orders = await services.orders.list_orders(user.user_id, limit)
    return json_response({"items": [order_json(o) for o in orders]})


@router.get("/orders/{order_id}")
async def get_order(services: Container, order_id: str, user: CurrentUser):
    order = await services.orders.get_order(order_id, owner=user.user_id)
    return json_response(order_json(order))
