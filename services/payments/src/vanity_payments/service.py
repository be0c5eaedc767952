"""Payment use cases (charging arrives with the payments issue)."""

from __future__ import annotations

import stripe
from vanity_common.db import Database
from vanity_common.errors import FieldError, InvalidArgument, NotFound

from vanity_payments import repository
from vanity_payments.domain import Payment


class PaymentService:
    def __init__(self, db: Database, webhook_secret: str, tolerance_s: int) -> None:
        self.db = db
        self.webhook_secret = webhook_secret
        self.tolerance_s = tolerance_s

    async def get_payment(self, *, payment_id: str = "", order_id: str = "") -> Payment:
        async with self.db.connect() as conn:
            if payment_id:
                payment = await repository.get_payment(conn, payment_id)
            else:
                payment = await repository.latest_for_order(conn, order_id)
        if payment is None:
            raise NotFound("Payment not found.", reason="PAYMENT_NOT_FOUND")
        return payment

    async def list_payments(self, limit: int) -> list[Payment]:
        async with self.db.connect() as conn:
            return await repository.list_payments(conn, limit)

    def verify_webhook(self, payload: bytes, signature: str | None) -> stripe.Event:
        """Stripe's signature check (official SDK): a forged or replayed event is refused."""
        if not signature:
            raise InvalidArgument(
                "Missing Stripe-Signature header.",
                reason="WEBHOOK_SIGNATURE_MISSING",
                errors=[FieldError("Stripe-Signature", "required")],
            )
        try:
            return stripe.Webhook.construct_event(
                payload, signature, self.webhook_secret, tolerance=self.tolerance_s
            )
        except (ValueError, stripe.SignatureVerificationError) as exc:
            raise InvalidArgument(
                "Invalid Stripe webhook signature or payload.",
                reason="WEBHOOK_SIGNATURE_INVALID",
                errors=[FieldError("Stripe-Signature", "does not verify")],
            ) from exc
