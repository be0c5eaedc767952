"""Inventory's REST API (thin: translate and delegate).

Public: `GET /api/v1/availability?sku=...` (in stock / low / out of stock per SKU).
Admin (`inventory` permission): stock levels, set/adjust with a mandatory reason, the ledger.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from vanity_common.app import container, json_response
from vanity_common.auth import Principal, require_admin
from vanity_common.types import MAX_DB_ID

from vanity_inventory.bootstrap import InventoryContainer
from vanity_inventory.domain import LedgerKind
from vanity_inventory.repository import LedgerRow
from vanity_inventory.service import StockView

router = APIRouter(prefix="/api/v1", tags=["availability"])
admin = APIRouter(prefix="/api/v1/admin/stock", tags=["admin: stock"])

Admin = Annotated[Principal, Depends(require_admin("inventory"))]
Sku = Annotated[str, Path(min_length=1, max_length=64)]
Container = Annotated[InventoryContainer, Depends(container)]


@router.get("/availability")
async def get_availability(
    services: Container, sku: Annotated[list[str], Query(min_length=1, max_length=200)]
):
    items = await services.inventory.availability(sku)
    return json_response(
        {"items": [{"sku": a.sku, "known": a.known, "level": a.level.value} for a in items]},
        headers={"Cache-Control": "public, max-age=5"},
    )


def _stock(s: StockView) -> dict:
    return {
        "sku": s.sku,
        "on_hand": s.on_hand,
        "reserved": s.reserved,
        "available": s.available,
        "level": s.level.value,
        "updated_at": s.updated_at.isoformat(),
    }


def _ledger(e: LedgerRow) -> dict:
    return {
        "id": e.id,
        "sku": e.sku,
        "kind": e.kind,
        "delta_on_hand": e.delta_on_hand,
        "delta_reserved": e.delta_reserved,
        "on_hand_after": e.on_hand_after,
        "reserved_after": e.reserved_after,
        "reason": e.reason,
        "actor": e.actor,
        "order_id": e.order_id,
        "reservation_id": e.reservation_id,
        "created_at": e.created_at.isoformat(),
    }


class SetStock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_hand: int = Field(ge=0, le=1_000_000_000)
    reason: str = Field(min_length=1, max_length=255)


class AdjustStock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delta: int = Field(ge=-1_000_000_000, le=1_000_000_000)
    reason: str = Field(min_length=1, max_length=255)
    kind: Literal["adjustment", "restock"] = "adjustment"


class AuditCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=255)


@admin.get("")
async def list_stock(
    services: Container,
    _: Admin,
    low: bool = False,
    prefix: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="last SKU of the page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    items = await services.inventory.list_stock(low=low, after=cursor, limit=limit, prefix=prefix)
    return json_response(
        {
            "items": [_stock(s) for s in items],
            "next_cursor": items[-1].sku if len(items) == limit else None,
            "low_stock_threshold": services.inventory.low_stock_threshold,
        }
    )


@admin.get("/{sku}")
async def get_stock(services: Container, _: Admin, sku: Sku):
    return json_response(_stock(await services.inventory.get_stock(sku)))


@admin.put("/{sku}")
async def set_stock(
    services: Container, principal: Admin, sku: Sku, body: Annotated[SetStock, Body()]
):
    stock = await services.inventory.set_stock(
        sku, body.on_hand, body.reason, actor=f"admin:{principal.user_id}"
    )
    return json_response(_stock(stock))


@admin.post("/{sku}")
async def adjust_stock(
    services: Container, principal: Admin, sku: Sku, body: Annotated[AdjustStock, Body()]
):
    stock = await services.inventory.adjust_stock(
        sku,
        body.delta,
        body.reason,
        actor=f"admin:{principal.user_id}",
        kind=LedgerKind(body.kind),
    )
    return json_response(_stock(stock))


@admin.get("/{sku}/ledger")
async def get_ledger(
    services: Container,
    _: Admin,
    sku: Sku,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_DB_ID, description="entries older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
):
    entries = await services.inventory.ledger(sku, before_id=cursor, limit=limit)
    return json_response(
        {
            "items": [_ledger(e) for e in entries],
            "next_cursor": entries[-1].id if len(entries) == limit else None,
        }
    )


@admin.post("/{sku}/audit-correction")
async def audit_correction(
    services: Container, principal: Admin, sku: Sku, body: Annotated[AuditCorrection, Body()]
):
    drift = await services.inventory.correct_from_audit(
        sku, body.reason, actor=f"admin:{principal.user_id}"
    )
    return json_response(
        {"sku": sku, "corrected": drift is not None, "drift": drift and drift.__dict__}
    )
