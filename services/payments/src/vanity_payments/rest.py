"""Payments' public REST API: Stripe's webhook (no JWT: Stripe's signature instead), the admin
API (admin role + `payments` permission) and, outside production, the 3-D Secure step Stripe.js
would perform in the customer's browser."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from vanity_common.app import container, json_response
from vanity_common.auth import Principal, require_admin
from vanity_common.errors import FieldError, InvalidArgument, NotFound
from vanity_common.idempotency import IDEMPOTENCY_HEADER, idempotent, parse_key
from vanity_common.types import SafeText

from vanity_payments import repository
from vanity_payments.bootstrap import PaymentsContainer
from vanity_payments.domain import MAX_AMOUNT_MINOR, MAX_ID_LENGTH, PaymentStatus
from vanity_payments.providers.webhooks import SIGNATURE_HEADER
from vanity_payments.service import PaymentDetail, RefundCommand

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])
admin = APIRouter(prefix="/api/v1/admin/payments", tags=["payments admin"])
development = APIRouter(prefix="/api/v1/payments/dev", tags=["payments (development only)"])

Container = Annotated[PaymentsContainer, Depends(container)]
AdminPayments = Annotated[Principal, Depends(require_admin("payments"))]
PaymentId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]


def payment_json(row: repository.PaymentRow) -> dict:
    p = row.payment
    return {
        "id": p.id,
        "order_id": p.order_id,
        "user_id": row.user_id,
        "status": p.status.value,
        "amount": {"amount_minor": p.amount_minor, "currency": p.currency},
        "captured": {"amount_minor": p.captured_minor, "currency": p.currency},
        "refunded": {"amount_minor": p.refunded_minor, "currency": p.currency},
        "provider": p.provider,
        "provider_reference": p.provider_reference,
        "failure_reason": p.failure_reason,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def detail_json(detail: PaymentDetail) -> dict:
    return {
        **payment_json(detail.row),
        "events": [
            {
                "id": entry.id,
                "transition": entry.event.transition.value,
                "from_status": entry.event.from_status.value,
                "to_status": entry.event.to_status.value,
                "amount_minor": entry.event.amount_minor,
                "actor": entry.event.actor,
                "reason": entry.event.reason,
                "provider_event_id": entry.event.provider_event_id,
                "failure_reason": entry.event.failure_reason,
                "created_at": entry.created_at.isoformat(),
            }
            for entry in detail.ledger
        ],
    }


# ---- Stripe's webhook


@router.post(
    "/webhooks/stripe",
    openapi_extra={
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def stripe_webhook(request: Request, services: Container):
    """A Stripe event. Missing, forged, tampered or stale signature: 400, nothing stored."""
    result = await services.payments.handle_webhook(
        await request.body(), request.headers.get(SIGNATURE_HEADER)
    )
    log.info(
        "stripe event %s (%s): %s",
        result.event_id,
        result.event_type,
        result.outcome,
        extra={"event": "stripe_webhook", "outcome": result.outcome},
    )
    return json_response({"received": True, "outcome": result.outcome})


# ---- admin

# Dates every database here can store and compare (MariaDB DATETIME starts at year 1000).
MIN_YEAR, MAX_YEAR = 2000, 9998


def _storable(value: datetime) -> bool:
    try:
        return MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR
    except (OverflowError, ValueError):
        return False


@admin.get("")
async def list_payments(
    _: AdminPayments,
    services: Container,
    status: Annotated[PaymentStatus | None, Query()] = None,
    order_id: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="inclusive")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="exclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
):
    for name, value in (("created_from", created_from), ("created_to", created_to)):
        if value is not None and not _storable(value):
            raise InvalidArgument(
                f"{name} is out of range.",
                errors=[FieldError(name, f"must be between {MIN_YEAR} and {MAX_YEAR}")],
            )
    if created_from and created_to and created_from >= created_to:
        raise InvalidArgument(
            "created_from must be before created_to.",
            errors=[FieldError("created_to", "must be after created_from")],
        )
    page = await services.payments.list_payments(
        limit=limit,
        filters=repository.PaymentFilter(status, order_id, created_from, created_to),
        cursor=cursor,
    )
    return json_response(
        {"items": [payment_json(r) for r in page.items], "next_cursor": page.next_cursor}
    )


@admin.get("/{payment_id}")
async def get_payment(payment_id: PaymentId, _: AdminPayments, services: Container):
    return json_response(detail_json(await services.payments.payment_detail(payment_id)))


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: int | None = Field(
        default=None, ge=1, le=MAX_AMOUNT_MINOR, description="unset: the whole remainder"
    )
    reason: Annotated[SafeText, Field(max_length=255)] = ""


def _refund_key(request: Request) -> str:
    """The refund's own key from the header (the decorator already checked it is there)."""
    key = f"admin:{parse_key(request.headers.get(IDEMPOTENCY_HEADER)) or ''}"
    if len(key) <= 128:
        return key
    return f"admin:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


@admin.post("/{payment_id}/refunds")
@idempotent()
async def refund_payment(
    request: Request,
    payment_id: PaymentId,
    body: Annotated[RefundBody, Body()],
    principal: AdminPayments,
    services: Container,
):
    """Refunds all or part of the captured remainder (more than the remainder: 422 naming
    `amount_minor`). The Idempotency-Key header is also the refund's key at the provider."""
    await services.payments.refund(
        RefundCommand(
            payment_id=payment_id,
            idempotency_key=_refund_key(request),
            amount_minor=body.amount_minor,
            actor=f"admin:{principal.user_id}"[:128],
            reason=body.reason,
        )
    )
    detail = await services.payments.payment_detail(payment_id)
    return json_response(detail_json(detail), status_code=201)


# ---- development: 3-D Secure without Stripe.js


class AuthenticationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_secret: str = Field(min_length=1, max_length=255)
    success: bool


@development.post("/{payment_id}/authenticate")
async def complete_authentication(
    payment_id: PaymentId, body: AuthenticationBody, services: Container
):
    """Completes (success) or fails the customer's 3-D Secure challenge, as Stripe.js reports
    it; the outcome then reaches the payment as a webhook. Not served in production."""
    if services.settings.is_production:
        raise NotFound("Not found.")
    payment = await services.payments.complete_authentication(
        payment_id, client_secret=body.client_secret, success=body.success
    )
    return json_response({"id": payment.id, "status": payment.status.value}, status_code=202)
