"""Payments' public REST API: Stripe's webhook (no JWT, signature instead) and admin reads."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from vanity_common.app import json_response
from vanity_common.auth import Principal, require_admin

from vanity_payments.domain import Payment

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["payments"])
AdminPayments = Annotated[Principal, Depends(require_admin("payments"))]


def payment_json(p: Payment) -> dict:
    return {
        "id": p.id,
        "order_id": p.order_id,
        "status": p.status.value,
        "amount": {"amount_minor": p.amount_minor, "currency": p.currency},
        "refunded": {"amount_minor": p.refunded_minor, "currency": p.currency},
        "provider": p.provider,
        "provider_reference": p.provider_reference,
        "failure_reason": p.failure_reason,
    }


@router.post("/payments/webhooks/stripe")
async def stripe_webhook(request: Request):
    event = request.app.state.payments.verify_webhook(
        await request.body(), request.headers.get("stripe-signature")
    )
    log.info("stripe event %s (%s) accepted", event["id"], event["type"])
    return json_response({"received": True})


@router.get("/admin/payments")
async def list_payments(
    request: Request, _: AdminPayments, limit: Annotated[int, Query(ge=1, le=100)] = 50
):
    items = await request.app.state.payments.list_payments(limit)
    return json_response({"items": [payment_json(p) for p in items]})


@router.get("/admin/payments/{payment_id}")
async def get_payment(request: Request, payment_id: str, _: AdminPayments):
    return json_response(
        payment_json(await request.app.state.payments.get_payment(payment_id=payment_id))
    )
