"""Checkout's public REST API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from vanity.inventory.v1 import inventory_pb2
from vanity_common.app import json_response
from vanity_common.auth import CurrentUser

from vanity_checkout import clients
from vanity_checkout.domain import Order

router = APIRouter(prefix="/api/v1", tags=["orders"])
internal = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)


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
    request: Request, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=100)] = 20
):
    orders = await request.app.state.orders.list_orders(user.user_id, limit)
    return json_response({"items": [order_json(o) for o in orders]})


@router.get("/orders/{order_id}")
async def get_order(request: Request, order_id: str, user: CurrentUser):
    order = await request.app.state.orders.get_order(order_id, owner=user.user_id)
    return json_response(order_json(order))


@internal.get("/probe/availability")
async def probe_availability(request: Request, sku: Annotated[list[str], Query(min_length=1)]):
    """Wiring probe (not routed by the gateway): checkout → inventory over gRPC."""
    response = await clients.inventory(request.app).GetAvailability(
        inventory_pb2.GetAvailabilityRequest(skus=sku)
    )
    return json_response(
        {
            "items": [
                {"sku": i.sku, "known": i.known, "available": i.available} for i in response.items
            ]
        }
    )
