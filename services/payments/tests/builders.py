"""What payments' tests send: provider intent requests and charge commands, with defaults."""

from __future__ import annotations

import itertools
import time

from vanity_payments.providers import CaptureMethod, IntentRequest
from vanity_payments.service import ChargeCommand

_ids = itertools.count(1)


def intent_request(
    payment_method: str = "pm_card_visa",
    *,
    amount: int = 3_000,
    capture: CaptureMethod = CaptureMethod.MANUAL,
) -> IntentRequest:
    """A new payment's intent: ids unique across runs (localstripe keeps its state)."""
    n = next(_ids)
    return IntentRequest(
        payment_id=f"pay-{n}-{time.monotonic_ns()}",
        order_id=f"order-{n}",
        amount_minor=amount,
        currency="EUR",
        payment_method=payment_method,
        capture_method=capture,
    )


def charge_command(
    key: str, order_id: str = "order-1", method: str = "pm_card_visa", **kw
) -> ChargeCommand:
    return ChargeCommand(
        idempotency_key=key,
        order_id=order_id,
        user_id="user-1",
        amount_minor=5_000,
        currency="EUR",
        payment_method=method,
        **kw,
    )
