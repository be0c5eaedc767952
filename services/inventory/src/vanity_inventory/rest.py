"""Inventory's public REST API (thin: translate and delegate)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from vanity_common.app import json_response

router = APIRouter(prefix="/api/v1", tags=["availability"])


@router.get("/availability")
async def get_availability(
    request: Request, sku: Annotated[list[str], Query(min_length=1, max_length=200)]
):
    items = await request.app.state.inventory.availability(sku)
    return json_response(
        {"items": [{"sku": a.sku, "known": a.known, "level": a.level.value} for a in items]},
        headers={"Cache-Control": "public, max-age=5"},
    )
