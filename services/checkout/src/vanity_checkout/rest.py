"""Checkout's public REST API: placing an order (the saga), the customer's own orders, and the
admin API (admin role + `orders` permission).

`POST /api/v1/checkout` runs the saga for at most `CHECKOUT_RESPONSE_DEADLINE_SECONDS` (5 s by
default): `201` once the order is `confirmed`, `failed`, or `awaiting_payment` (3-D Secure: the
answer carries `payment.client_secret`), else `202` with `status: "pending"` while the saga goes
on in the background; the client then polls `GET /api/v1/orders/{id}`. The answer is stored
under the Idempotency-Key (chassis), and the saga itself keeps one order per user and key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from vanity_common.app import container, json_response
from vanity_common.auth import CurrentUser, Principal, require_admin
from vanity_common.errors import FieldError, InvalidArgument
from vanity_common.idempotency import IDEMPOTENCY_HEADER, idempotent, parse_key
from vanity_common.mapping import json_fields
from vanity_common.types import SafeText

from vanity_checkout.bootstrap import CheckoutContainer
from vanity_checkout.domain import Order, OrderStatus, ShippingAddress
from vanity_checkout.repository import SagaLogEntry, SagaRecord
from vanity_checkout.saga import MAX_KEY_LENGTH, PlaceOrder
from vanity_checkout.service import OrderFilter, OrderPage

router = APIRouter(prefix="/api/v1", tags=["orders"])
admin = APIRouter(prefix="/api/v1/admin/orders", tags=["orders admin"])

Container = Annotated[CheckoutContainer, Depends(container)]
AdminOrders = Annotated[Principal, Depends(require_admin("orders"))]
OrderId = Annotated[str, Path(min_length=1, max_length=64)]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=100)]
# Dates every database here can store and compare (MariaDB DATETIME starts at year 1000).
MIN_YEAR, MAX_YEAR = 2000, 9998


# ----------------------------------------------------------------------------- serialisation


def _money(amount_minor: int, currency: str) -> dict:
    return {"amount_minor": amount_minor, "currency": currency}


def order_json(order: Order) -> dict:
    address = order.shipping_address
    body: dict = {
        "order_id": order.id,
        "id": order.id,
        "status": order.status.value,
        "total": _money(order.total_minor, order.currency),
        "refunded": _money(order.refunded_minor, order.currency),
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat() if order.updated_at else None,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price_minor, line.currency),
                "line_total": _money(line.total_minor, line.currency),
            }
            for line in order.lines
        ],
        "payment": {"id": order.payment_id, "status": order.payment_status},
        "failure_reason": order.failure_reason.value if order.failure_reason else None,
        "shipping_address": json_fields(address, exclude=("address_id",)) if address else None,
        "tracking": (
            {"tracking_number": order.tracking_number, "carrier": order.carrier}
            if order.tracking_number
            else None
        ),
    }
    if order.status is OrderStatus.AWAITING_PAYMENT and order.client_secret:
        body["payment"]["client_secret"] = order.client_secret
    return body


def page_json(page: OrderPage) -> dict:
    return {"items": [order_json(o) for o in page.items], "next_cursor": page.next_cursor}


def timeline_json(entries: list[SagaLogEntry]) -> list[dict]:
    return [
        {
            "id": e.id,
            "event": e.event,
            "from": {"state": e.from_state, "step": e.from_step} if e.from_state else None,
            "to": {"state": e.to_state, "step": e.to_step} if e.to_state else None,
            "detail": e.detail,
            "actor": e.actor,
            "at": e.created_at.isoformat(),
        }
        for e in entries
    ]


def saga_json(record: SagaRecord | None) -> dict | None:
    if record is None:
        return None
    saga = record.saga
    return {
        "state": saga.state.value,
        "step": saga.step.value,
        "failure_reason": saga.failure_reason.value if saga.failure_reason else None,
        "attempts": record.attempts,
        "next_attempt_at": record.next_attempt_at.isoformat(),
        "lease_until": record.lease_until.isoformat() if record.lease_until else None,
        "wait_until": saga.wait_until.isoformat() if saga.wait_until else None,
    }


# ------------------------------------------------------------------------------- placing


class AddressBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Annotated[SafeText, Field(min_length=1, max_length=120)]
    line1: Annotated[SafeText, Field(min_length=1, max_length=200)]
    line2: Annotated[SafeText, Field(max_length=200)] = ""
    city: Annotated[SafeText, Field(min_length=1, max_length=100)]
    region: Annotated[SafeText, Field(max_length=100)] = ""
    postal_code: Annotated[SafeText, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    phone: Annotated[SafeText, Field(max_length=40)] = ""


class CheckoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]
    shipping_address_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    shipping_address: AddressBody | None = None
    expected_total_minor: Annotated[int | None, Field(ge=0, le=10**12)] = None

    @model_validator(mode="after")
    def _one_address(self) -> CheckoutBody:
        if (self.shipping_address_id is None) == (self.shipping_address is None):
            raise InvalidArgument(
                "Give either shipping_address_id or shipping_address.",
                errors=[
                    FieldError(
                        "shipping_address_id",
                        "give either shipping_address_id or shipping_address",
                    )
                ],
            )
        return self


def _saga_key(request: Request) -> str:
    """The saga's own key (one order per user and key) from the header the decorator checked;
    a long key is hashed to fit."""
    key = parse_key(request.headers.get(IDEMPOTENCY_HEADER)) or ""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"


@router.post("/checkout", status_code=201)
@idempotent()
async def checkout(
    request: Request, body: Annotated[CheckoutBody, Body()], user: CurrentUser, services: Container
):
    address = None
    if body.shipping_address is not None:
        address = ShippingAddress(**body.shipping_address.model_dump())
    order = await services.saga.place_order(
        PlaceOrder(
            user_id=user.user_id,
            idempotency_key=_saga_key(request),
            payment_method=body.payment_method,
            shipping_address_id=body.shipping_address_id,
            shipping_address=address,
            expected_total_minor=body.expected_total_minor,
        ),
        wait_s=services.settings.response_deadline_seconds,
    )
    status = 202 if order.status is OrderStatus.PENDING else 201
    headers = {"Location": f"/api/v1/orders/{order.id}"}
    return json_response(order_json(order), status_code=status, headers=headers)


# ------------------------------------------------------------------------ own orders


@router.get("/orders")
async def list_orders(
    services: Container, user: CurrentUser, cursor: Cursor = None, limit: Limit = 20
):
    page = await services.orders.page(OrderFilter(user_id=user.user_id), limit=limit, cursor=cursor)
    return json_response(page_json(page))


@router.get("/orders/{order_id}")
async def get_order(services: Container, order_id: OrderId, user: CurrentUser):
    """Another user's order is a 404, never a 403."""
    return json_response(order_json(await services.saga.get_order(order_id, owner=user.user_id)))


@router.post("/orders/{order_id}/cancel")
async def cancel_order(services: Container, order_id: OrderId, user: CurrentUser):
    """Before shipping: voids or refunds the payment, releases or restocks the stock."""
    order = await services.saga.cancel_order(order_id, owner=user.user_id)
    return json_response(order_json(order))


# ------------------------------------------------------------------------------ admin


def _storable(name: str, value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        ok = MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR
    except (OverflowError, ValueError):
        ok = False
    if not ok:
        raise InvalidArgument(
            f"{name} is out of range.",
            errors=[FieldError(name, f"must be between {MIN_YEAR} and {MAX_YEAR}")],
        )
    return value.astimezone(UTC)


@admin.get("")
async def admin_list_orders(
    _: AdminOrders,
    services: Container,
    status: Annotated[OrderStatus | None, Query()] = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="inclusive")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
):
    start = _storable("created_from", created_from)
    end = _storable("created_to", created_to)
    if start and end and start >= end:
        raise InvalidArgument(
            "created_from must be before created_to.",
            errors=[FieldError("created_to", "must be after created_from")],
        )
    page = await services.orders.page(
        OrderFilter(user_id=user_id, status=status, created_from=start, created_before=end),
        limit=limit,
        cursor=cursor,
    )
    return json_response(page_json(page))


@admin.get("/{order_id}")
async def admin_get_order(order_id: OrderId, _: AdminOrders, services: Container):
    """The order with its saga (state, step, attempts), the saga log and payments' record."""
    order = await services.saga.get_order(order_id)
    body = order_json(order)
    body["user_id"] = order.user_id
    body["saga"] = saga_json(await services.saga.get_saga(order_id))
    body["timeline"] = timeline_json(await services.saga.timeline(order_id))
    body["payment_record"] = None
    if order.payment_id:
        try:
            payment = await services.ports.payments.payment_for_order(order_id)
        except Exception as exc:  # payments down: the order is still worth showing
            body["payment_record"] = {"error": type(exc).__name__}
        else:
            if payment is not None:
                body["payment_record"] = {
                    "id": payment.payment_id,
                    "status": payment.status.value,
                    "amount": _money(payment.amount.amount_minor, payment.amount.currency),
                    "refunded": _money(payment.refunded.amount_minor, payment.refunded.currency),
                    "provider": payment.provider,
                    "failure_reason": payment.failure_reason,
                }
    return json_response(body)


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: Annotated[int | None, Field(ge=1, le=10**12)] = Field(
        default=None, description="unset: all that remains"
    )


@admin.post("/{order_id}/refund")
@idempotent()
async def admin_refund(
    request: Request,
    order_id: OrderId,
    principal: AdminOrders,
    services: Container,
    body: Annotated[RefundBody | None, Body()] = None,
):
    order = await services.saga.refund(
        order_id,
        idempotency_key=_saga_key(request),
        amount_minor=body.amount_minor if body else None,
        actor=f"admin:{principal.user_id}"[:80],
    )
    return json_response(order_json(order))


@admin.post("/{order_id}/cancel")
async def admin_cancel(order_id: OrderId, _: AdminOrders, services: Container):
    return json_response(order_json(await services.saga.cancel_order(order_id, by_admin=True)))


class ShipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_number: Annotated[SafeText, Field(min_length=1, max_length=100)]
    carrier: Annotated[SafeText, Field(max_length=64)] = ""


@admin.post("/{order_id}/ship")
async def admin_ship(
    order_id: OrderId,
    body: Annotated[ShipBody, Body()],
    principal: AdminOrders,
    services: Container,
):
    order = await services.saga.ship(
        order_id,
        tracking_number=body.tracking_number,
        carrier=body.carrier,
        actor=f"admin:{principal.user_id}"[:80],
    )
    return json_response(order_json(order))
