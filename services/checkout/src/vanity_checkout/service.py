"""Checkout use cases besides the saga (`saga.py`): order e-mails and the restock hand-off."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from vanity_common.cursor import CursorError, decode_cursor, encode_cursor
from vanity_common.db import Database
from vanity_common.errors import FieldError, InvalidArgument
from vanity_common.mail import Mailer, build_message
from vanity_common.outbox import OutboxMessage, once_per_message

from vanity_checkout import repository
from vanity_checkout.domain import Order, OrderStatus
from vanity_checkout.saga_ports import IdentityForSaga

log = logging.getLogger(__name__)

EMAIL_CONSUMER = "checkout.send_order_email"
SUBJECTS = {
    "confirmed": "Your Vanity order {short} is confirmed",
    "cancelled": "Your Vanity order {short} was cancelled",
    "refunded": "A refund for your Vanity order {short}",
    "shipped": "Your Vanity order {short} has shipped",
}


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:.2f} {currency}"


class OrderEmails:
    """The order e-mails, sent by the Celery task the saga's outbox rows become."""

    def __init__(
        self, db: Database, identity: IdentityForSaga, mailer: Mailer, sender: str
    ) -> None:
        self.db = db
        self.identity = identity
        self.mailer = mailer
        self.sender = sender

    async def send(
        self, message_id: str, *, order_id: str, user_id: str, kind: str, **facts
    ) -> bool:
        """Once per outbox message id (a crash between the e-mail and its record sends it once
        more, with the same Message-ID). False: already sent, or no address to send to."""

        async def effect() -> None:
            user = await self.identity.user(user_id)
            if user is None or not user.email:
                log.warning("order e-mail %s: user %s has no address", kind, user_id)
                return
            async with self.db.connect() as conn:
                order = await repository.get_order(conn, order_id)
            body = self._body(kind, order_id, order, facts)
            subject = SUBJECTS.get(kind, "Your Vanity order {short}").format(short=order_id[:8])
            await self.mailer.send(
                build_message(self.sender, user.email, subject, body, message_id=message_id)
            )

        return await once_per_message(self.db, EMAIL_CONSUMER, message_id, effect)

    @staticmethod
    def _body(kind: str, order_id: str, order, facts: dict) -> str:
        currency = facts.get("currency") or (order.currency if order else "")
        lines = [f"Order {order_id}", f"Status: {facts.get('status', kind)}"]
        if order is not None:
            lines += [f"  {line.quantity} x {line.name} ({line.sku})" for line in order.lines]
            if order.tracking_number:
                lines.append(f"Tracking: {order.carrier or ''} {order.tracking_number}".strip())
        lines.append(f"Total: {_money(int(facts.get('total_minor', 0)), currency)}")
        if kind == "refunded":
            lines.append(f"Refunded: {_money(int(facts.get('refunded_minor', 0)), currency)}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class OrderPage:
    items: list[Order]
    next_cursor: str | None


@dataclass(frozen=True)
class OrderFilter:
    user_id: str | None = None
    status: OrderStatus | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None


class Restocks:
    """The outbox handler for `checkout.restock_required` (a committed order was cancelled):
    asks inventory to put the units back. Inventory's Restock is idempotent per order, so a
    redelivered message changes nothing; a failure is retried by the relay with backoff."""

    def __init__(self, inventory) -> None:
        self.inventory = inventory

    async def __call__(self, message: OutboxMessage) -> None:
        await self.inventory.restock(message.payload["order_id"], "order cancelled")


class OrderQueries:
    """Order lists, newest first, in keyset pages (an opaque cursor: created_at + id)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, filters: OrderFilter, *, limit: int, cursor: str | None) -> OrderPage:
        after = _after(cursor) if cursor else None
        async with self.db.connect() as conn:
            items = await repository.page_orders(
                conn,
                limit=limit + 1,
                user_id=filters.user_id,
                status=filters.status,
                created_from=filters.created_from,
                created_before=filters.created_before,
                after=after,
            )
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            next_cursor = encode_cursor({"t": last.created_at.isoformat(), "id": last.id})
        return OrderPage(items, next_cursor)


def _after(cursor: str) -> tuple[datetime, str]:
    bad = InvalidArgument("The cursor is invalid.", errors=[FieldError("cursor", "malformed")])
    try:
        data = decode_cursor(cursor)
        created_at = datetime.fromisoformat(data["t"])
        order_id = data["id"]
    except (CursorError, KeyError, TypeError, ValueError):
        raise bad from None
    if not isinstance(order_id, str) or len(order_id) > 64 or created_at.tzinfo is None:
        raise bad
    return created_at.astimezone(UTC), order_id
