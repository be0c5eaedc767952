"""Stripe-signed webhook events: verification through the official SDK, and signing for the mock.

Both providers deliver the same thing: a Stripe event (id, type, created, data.object) in the body
and `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The receiver
verifies with `stripe.Webhook.construct_event`, then acts on the intent's current state (retrieved),
never on the event's order, so a duplicated or reordered event changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import stripe

SIGNATURE_HEADER = "Stripe-Signature"
DEFAULT_TOLERANCE_S = 300

# The events payments acts on (each names or carries a PaymentIntent). Not
# `payment_intent.created`: a new intent carries no outcome, and acting on it costs a retrieve.
INTENT_EVENT_TYPES = frozenset(
    {
        "payment_intent.requires_action",
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.processing",
        "charge.refunded",
        "charge.captured",
    }
)

# The events a webhook endpoint subscribes to (Stripe's `enabled_events`; docs/payments.md).
# Not `charge.captured`: for a manually captured intent `payment_intent.succeeded` reports the
# same capture, and each event delivered costs a retrieve and a transaction. It is still acted
# on when an endpoint subscribed to everything delivers it.
SUBSCRIBED_EVENT_TYPES = INTENT_EVENT_TYPES - {"charge.captured"}


class WebhookSignatureInvalid(Exception):
    """Missing, forged, tampered or too old: the event must change nothing."""


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    object_type: str  # "payment_intent", "charge", ...
    object_id: str
    payment_intent_id: str | None  # the intent to retrieve before acting
    data: dict[str, Any]  # data.object as sent (a snapshot at sending time, possibly stale)


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send for `payload` at `timestamp`."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook(
    payload: bytes,
    signature_header: str | None,
    secret: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> WebhookEvent:
    """Stripe's own check (signature and timestamp tolerance), then the fields payments needs."""
    if not signature_header:
        raise WebhookSignatureInvalid("missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(
            payload, signature_header, secret, tolerance=tolerance_s
        )
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(str(exc)) from exc
    except ValueError as exc:  # the body is not JSON
        raise WebhookSignatureInvalid(f"invalid payload: {exc}") from exc
    raw = event.to_dict()
    obj = (raw.get("data") or {}).get("object") or {}
    object_type = str(obj.get("object") or "")
    object_id = str(obj.get("id") or "")
    if object_type == "payment_intent":
        intent_id: str | None = object_id
    else:
        intent = obj.get("payment_intent")
        intent_id = intent.get("id") if isinstance(intent, dict) else intent
    return WebhookEvent(
        id=str(raw.get("id") or ""),
        type=str(raw.get("type") or ""),
        created=int(raw.get("created") or 0),
        object_type=object_type,
        object_id=object_id,
        payment_intent_id=intent_id or None,
        data=obj,
    )
