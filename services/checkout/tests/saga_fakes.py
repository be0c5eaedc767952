"""In-process stand-ins for the five services the checkout saga drives.

They keep state and behave like the real services where the saga depends on it: every mutation
is idempotent by order id or key, reservations expire on the shared clock, payments follow the
test card tokens (`pm_card_visa`, `pm_card_visa_chargeDeclined`, `pm_card_authenticationRequired`),
and refusals are the ports' own exceptions. Failures are injected per method with `fail_next`:

- `unavailable`: the call fails before the service acts (DependencyUnavailable);
- `timeout_after`: the service acts, then the answer is lost (DependencyUnavailable: a deadline
  exceeded with the effect applied);
- `crash_before` / `crash_after`: the checkout process "dies" (`Crash`, a BaseException the
  orchestrator does not catch) before or after the service acted, leaving the saga's lease.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import grpc
from vanity_checkout.ports import (
    Address,
    Cart,
    CartEmpty,
    CartLocked,
    InsufficientStock,
    Money,
    Payment,
    PaymentRefused,
    PaymentStatus,
    Reservation,
    ReservationClosed,
    ReservationMismatch,
    ReservationStatus,
    UnknownSku,
    User,
    Variant,
    Variants,
)
from vanity_common.grpc_client import DependencyUnavailable, RemoteFailure
from vanity_testkit import FakeClock


class Crash(BaseException):
    """The checkout process dies here (not an Exception: nothing in checkout catches it)."""


def _failure(service: str, method: str, code: grpc.StatusCode, reason: str | None, details=""):
    return RemoteFailure(service, method, code, reason, details)


class ConcurrentRun(AssertionError):
    pass


class _Faulty:
    """Fault injection and a check that no two saga runs call about the same order at once."""

    service = "fake"

    def __init__(self) -> None:
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.calls: list[tuple[str, str]] = []  # (method, order id)
        self.in_flight: set[str] = set()
        self.overlaps: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}

    def hold_next(self, method: str) -> asyncio.Event:
        """The next call of `method` hangs (before acting) until the event is set."""
        self.gates[method] = asyncio.Event()
        return self.gates[method]

    def fail_next(self, method: str, mode: str, times: int = 1) -> None:
        self.faults[method].extend([mode] * times)

    async def _call(self, method: str, key: str, effect: Callable[[], object]):
        self.calls.append((method, key))
        mode = self.faults[method].pop(0) if self.faults[method] else None
        if key in self.in_flight:
            self.overlaps.append((method, key))
        self.in_flight.add(key)
        try:
            await asyncio.sleep(0)  # let other runs interleave, as a network call would
            gate = self.gates.pop(method, None)
            if gate is not None:
                await gate.wait()
            if mode == "crash_before":
                raise Crash(f"{self.service}.{method} before")
            if mode == "unavailable":
                raise DependencyUnavailable(
                    _failure(self.service, method, grpc.StatusCode.UNAVAILABLE, None)
                )
            result = effect()
            await asyncio.sleep(0)
            if mode == "crash_after":
                raise Crash(f"{self.service}.{method} after")
            if mode == "timeout_after":
                raise DependencyUnavailable(
                    _failure(self.service, method, grpc.StatusCode.DEADLINE_EXCEEDED, None)
                )
            return result
        finally:
            self.in_flight.discard(key)

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)


# ----------------------------------------------------------------------------- inventory


@dataclass
class _Reservation:
    id: str
    order_id: str
    lines: dict[str, int]
    expires_at: datetime
    status: ReservationStatus = ReservationStatus.ACTIVE


class FakeInventory(_Faulty):
    service = "inventory"

    def __init__(self, clock: FakeClock, stock: dict[str, int]) -> None:
        super().__init__()
        self.clock = clock
        self.on_hand = dict(stock)
        self.reservations: dict[str, _Reservation] = {}
        self.restocked: set[str] = set()

    def _status(self, r: _Reservation) -> ReservationStatus:
        if r.status is ReservationStatus.ACTIVE and r.expires_at <= self.clock():
            return ReservationStatus.EXPIRED
        return r.status

    def _view(self, r: _Reservation) -> Reservation:
        return Reservation(r.id, r.order_id, self._status(r), dict(r.lines), r.expires_at)

    def available(self, sku: str) -> int:
        held = sum(
            r.lines.get(sku, 0)
            for r in self.reservations.values()
            if self._status(r) is ReservationStatus.ACTIVE
        )
        return self.on_hand.get(sku, 0) - held

    async def reserve(self, order_id: str, lines: Sequence[tuple[str, int]], ttl_seconds: int):
        def effect() -> Reservation:
            wanted = dict(lines)
            existing = self.reservations.get(order_id)
            if existing is not None:
                if existing.lines != wanted:
                    raise ReservationMismatch(
                        _failure(
                            self.service,
                            "Reserve",
                            grpc.StatusCode.ALREADY_EXISTS,
                            "RESERVATION_MISMATCH",
                        )
                    )
                status = self._status(existing)
                if status is not ReservationStatus.ACTIVE:
                    raise ReservationClosed(
                        _failure(
                            self.service,
                            "Reserve",
                            grpc.StatusCode.FAILED_PRECONDITION,
                            f"RESERVATION_{status.name}",
                        )
                    )
                return self._view(existing)
            for sku, quantity in wanted.items():
                if sku not in self.on_hand:
                    raise UnknownSku(
                        _failure(
                            self.service, "Reserve", grpc.StatusCode.NOT_FOUND, "UNKNOWN_SKU", sku
                        )
                    )
                if self.available(sku) < quantity:
                    raise InsufficientStock(
                        _failure(
                            self.service,
                            "Reserve",
                            grpc.StatusCode.FAILED_PRECONDITION,
                            "INSUFFICIENT_STOCK",
                            f"short: {sku}",
                        )
                    )
            reservation = _Reservation(
                uuid.uuid4().hex,
                order_id,
                wanted,
                self.clock() + timedelta(seconds=ttl_seconds),
            )
            self.reservations[order_id] = reservation
            return self._view(reservation)

        return await self._call("reserve", order_id, effect)

    async def commit(self, order_id: str):
        def effect() -> Reservation:
            r = self.reservations.get(order_id)
            if r is None:
                raise DependencyUnavailable(  # NOT_FOUND is not mapped by the real port either
                    _failure(
                        self.service, "Commit", grpc.StatusCode.NOT_FOUND, "RESERVATION_NOT_FOUND"
                    )
                )
            status = self._status(r)
            if status in (ReservationStatus.EXPIRED, ReservationStatus.RELEASED):
                raise ReservationClosed(
                    _failure(
                        self.service,
                        "Commit",
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"RESERVATION_{status.name}",
                    )
                )
            if status is ReservationStatus.ACTIVE:
                for sku, quantity in r.lines.items():
                    self.on_hand[sku] -= quantity
                r.status = ReservationStatus.COMMITTED
            return self._view(r)

        return await self._call("commit", order_id, effect)

    async def release(self, order_id: str, reason: str):
        def effect() -> Reservation:
            r = self.reservations.get(order_id)
            if r is None:
                return Reservation("", order_id, ReservationStatus.RELEASED, {}, None)
            if r.status is ReservationStatus.COMMITTED:
                raise ReservationClosed(
                    _failure(
                        self.service,
                        "Release",
                        grpc.StatusCode.FAILED_PRECONDITION,
                        "RESERVATION_COMMITTED",
                    )
                )
            r.status = ReservationStatus.RELEASED
            return self._view(r)

        return await self._call("release", order_id, effect)

    async def restock(self, order_id: str, reason: str):
        """Inventory's Restock: a committed order's units back on hand, once per order."""

        def effect() -> Reservation:
            r = self.reservations[order_id]
            if r.status is not ReservationStatus.COMMITTED:
                raise ReservationClosed(
                    _failure(
                        self.service,
                        "Restock",
                        grpc.StatusCode.FAILED_PRECONDITION,
                        "RESERVATION_NOT_COMMITTED",
                    )
                )
            if order_id not in self.restocked:
                self.restocked.add(order_id)
                for sku, quantity in r.lines.items():
                    self.on_hand[sku] += quantity
            return self._view(r)

        return await self._call("restock", order_id, effect)

    async def reservation(self, order_id: str):
        def effect() -> Reservation | None:
            r = self.reservations.get(order_id)
            return self._view(r) if r else None

        return await self._call("reservation", order_id, effect)


# ------------------------------------------------------------------------------- catalog


class FakeCatalog(_Faulty):
    service = "catalog"

    def __init__(self, prices: dict[str, int], currency: str = "EUR") -> None:
        super().__init__()
        self.prices = dict(prices)
        self.currency = currency
        self.inactive: set[str] = set()

    async def variants(self, skus: Sequence[str]):
        def effect() -> Variants:
            found = {
                sku: Variant(
                    sku,
                    f"p-{sku}",
                    sku.lower(),
                    f"Product {sku}",
                    "Brand",
                    "",
                    Money(self.prices[sku], self.currency),
                    sku not in self.inactive,
                    "",
                )
                for sku in skus
                if sku in self.prices
            }
            return Variants(found, [s for s in skus if s not in self.prices])

        # Keyed per call: orders may price the same SKUs at once, legitimately.
        return await self._call("variants", uuid.uuid4().hex, effect)


# ------------------------------------------------------------------------------ identity


class FakeIdentity(_Faulty):
    service = "identity"

    def __init__(self) -> None:
        super().__init__()
        self.addresses: dict[tuple[str, str], Address] = {}

    def add_address(self, user_id: str, address_id: str) -> None:
        self.addresses[(user_id, address_id)] = Address(
            full_name="Ada Lovelace",
            line1="1 Main St",
            city="Paris",
            postal_code="75001",
            country="FR",
            address_id=address_id,
            user_id=user_id,
        )

    async def user(self, user_id: str):
        return await self._call(
            "user",
            uuid.uuid4().hex,
            lambda: User(
                user_id, f"{user_id}@example.com", user_id, frozenset({"customer"}), False
            ),
        )

    async def address(self, user_id: str, address_id: str):
        return await self._call(
            "address", uuid.uuid4().hex, lambda: self.addresses.get((user_id, address_id))
        )


# ---------------------------------------------------------------------------------- cart


@dataclass
class _Cart:
    lines: dict[str, int] = field(default_factory=dict)
    locked_by: str | None = None
    version: int = 0


class FakeCart(_Faulty):
    service = "cart"

    def __init__(self) -> None:
        super().__init__()
        self.carts: dict[str, _Cart] = defaultdict(_Cart)

    def put(self, user_id: str, lines: dict[str, int]) -> None:
        self.carts[user_id] = _Cart(dict(lines))

    def _view(self, user_id: str) -> Cart:
        c = self.carts[user_id]
        return Cart(user_id, dict(c.lines), c.version, c.locked_by)

    async def lock(self, user_id: str, checkout_id: str):
        def effect() -> Cart:
            c = self.carts[user_id]
            if c.locked_by not in (None, checkout_id):
                raise CartLocked(
                    _failure(
                        self.service, "LockCart", grpc.StatusCode.FAILED_PRECONDITION, "CART_LOCKED"
                    )
                )
            if not c.lines:
                raise CartEmpty(
                    _failure(
                        self.service, "LockCart", grpc.StatusCode.FAILED_PRECONDITION, "CART_EMPTY"
                    )
                )
            c.locked_by = checkout_id
            return self._view(user_id)

        return await self._call("lock", checkout_id, effect)

    async def unlock(self, user_id: str, checkout_id: str):
        def effect() -> Cart:
            c = self.carts[user_id]
            if c.locked_by == checkout_id:
                c.locked_by = None
            return self._view(user_id)

        return await self._call("unlock", checkout_id, effect)

    async def clear(self, user_id: str, checkout_id: str):
        def effect() -> Cart:
            c = self.carts[user_id]
            if c.locked_by == checkout_id:
                c.lines, c.locked_by, c.version = {}, None, c.version + 1
            return self._view(user_id)

        return await self._call("clear", checkout_id, effect)


# A shipping address as clients send it (POST /api/v1/checkout).
ADDRESS_JSON = {
    "full_name": "Ada Lovelace",
    "line1": "1 Main St",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


# ------------------------------------------------------------------------------ payments

VISA = "pm_card_visa"
DECLINED = "pm_card_visa_chargeDeclined"
THREE_D_SECURE = "pm_card_authenticationRequired"


@dataclass
class _Payment:
    id: str
    order_id: str
    key: str
    amount: Money
    status: PaymentStatus
    failure_reason: str | None = None
    client_secret: str | None = None
    refunded_minor: int = 0
    refund_keys: dict[str, int] = field(default_factory=dict)


class FakePayments(_Faulty):
    service = "payments"

    def __init__(self) -> None:
        super().__init__()
        self.payments: dict[str, _Payment] = {}
        self.by_key: dict[str, str] = {}
        self.captures: dict[str, int] = defaultdict(int)  # payment id -> capture operations
        # Called inside Charge after the intent exists (a webhook racing the answer).
        self.on_charge: Callable[[_Payment], object] | None = None

    def _view(self, p: _Payment) -> Payment:
        return Payment(
            p.id,
            p.order_id,
            p.status,
            p.amount,
            Money(p.refunded_minor, p.amount.currency),
            "mock",
            f"pi_{p.id}",
            p.failure_reason,
            p.client_secret,
        )

    def for_order(self, order_id: str) -> list[_Payment]:
        return [p for p in self.payments.values() if p.order_id == order_id]

    def refused(self, method: str, reason: str) -> PaymentRefused:
        return PaymentRefused(
            _failure(self.service, method, grpc.StatusCode.FAILED_PRECONDITION, reason)
        )

    async def charge(
        self,
        *,
        idempotency_key,
        order_id,
        user_id,
        amount,
        payment_method,
        capture=False,
        description="",
    ):
        def effect() -> Payment:
            if idempotency_key in self.by_key:
                return self._view(self.payments[self.by_key[idempotency_key]])
            p = _Payment(uuid.uuid4().hex, order_id, idempotency_key, amount, PaymentStatus.PENDING)
            if payment_method == DECLINED:
                p.status, p.failure_reason = PaymentStatus.FAILED, "card_declined"
            elif payment_method == THREE_D_SECURE:
                p.status, p.client_secret = PaymentStatus.REQUIRES_ACTION, f"{p.id}_secret"
            else:
                p.status = PaymentStatus.CAPTURED if capture else PaymentStatus.AUTHORIZED
            self.payments[p.id] = p
            self.by_key[idempotency_key] = p.id
            return self._view(p)

        answer = await self._call("charge", order_id, effect)
        if self.on_charge is not None:
            await self.on_charge(self.payments[answer.payment_id])
        return answer

    def complete_authentication(self, order_id: str, success: bool = True) -> _Payment:
        """The customer finishes (or fails) 3-D Secure at the provider."""
        (p,) = [p for p in self.for_order(order_id) if p.status is PaymentStatus.REQUIRES_ACTION]
        if success:
            p.status = PaymentStatus.AUTHORIZED
        else:
            # payments keeps Stripe's error code as the failure reason
            p.status = PaymentStatus.FAILED
            p.failure_reason = "payment_intent_authentication_failure"
        return p

    async def capture(self, payment_id: str):
        def effect() -> Payment:
            p = self.payments[payment_id]
            if p.status is PaymentStatus.AUTHORIZED:
                p.status = PaymentStatus.CAPTURED
                self.captures[payment_id] += 1
            elif p.status is not PaymentStatus.CAPTURED:
                raise self.refused("Capture", "ILLEGAL_TRANSITION")
            return self._view(p)

        return await self._call("capture", self.payments[payment_id].order_id, effect)

    async def void(self, payment_id: str, reason: str):
        def effect() -> Payment:
            p = self.payments[payment_id]
            if p.status in (
                PaymentStatus.AUTHORIZED,
                PaymentStatus.REQUIRES_ACTION,
                PaymentStatus.PENDING,
            ):
                p.status = PaymentStatus.VOIDED  # Stripe cancels these intents
            elif p.status is PaymentStatus.CAPTURED:
                raise self.refused("Void", "PAYMENT_CAPTURED")
            elif p.status is not PaymentStatus.VOIDED:
                raise self.refused("Void", "ILLEGAL_TRANSITION")
            return self._view(p)

        return await self._call("void", self.payments[payment_id].order_id, effect)

    async def refund(self, payment_id: str, idempotency_key: str, amount, reason: str):
        def effect() -> Payment:
            p = self.payments[payment_id]
            if idempotency_key in p.refund_keys:
                return self._view(p)
            if p.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
                raise self.refused("Refund", "PAYMENT_NOT_CAPTURED")
            remaining = p.amount.amount_minor - p.refunded_minor
            value = remaining if amount is None else amount.amount_minor
            if value > remaining:
                raise self.refused("Refund", "REFUND_EXCEEDS_CAPTURED")
            p.refund_keys[idempotency_key] = value
            p.refunded_minor += value
            p.status = (
                PaymentStatus.REFUNDED
                if p.refunded_minor == p.amount.amount_minor
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            return self._view(p)

        return await self._call("refund", self.payments[payment_id].order_id, effect)

    async def payment_for_order(self, order_id: str):
        def effect() -> Payment | None:
            found = self.for_order(order_id)
            return self._view(found[-1]) if found else None

        return await self._call("payment_for_order", order_id, effect)


@dataclass
class FakeShop:
    """The five services, wired like `CheckoutPorts`."""

    clock: FakeClock
    inventory: FakeInventory
    catalog: FakeCatalog
    identity: FakeIdentity
    cart: FakeCart
    payments: FakePayments

    @classmethod
    def create(cls, clock: FakeClock, stock: dict[str, int], prices: dict[str, int]) -> FakeShop:
        return cls(
            clock,
            FakeInventory(clock, stock),
            FakeCatalog(prices),
            FakeIdentity(),
            FakeCart(),
            FakePayments(),
        )

    def fakes(self) -> list[_Faulty]:
        return [self.inventory, self.catalog, self.identity, self.cart, self.payments]

    def overlaps(self) -> list[tuple[str, str]]:
        return [o for f in self.fakes() for o in f.overlaps]
