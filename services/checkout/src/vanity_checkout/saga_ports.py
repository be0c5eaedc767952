"""The parts of the other services the checkout saga calls, as Protocols.

They are the method signatures of `vanity_checkout.ports` (the gRPC ports), so
`CheckoutPorts.over_grpc(...)` satisfies `SagaPorts` as it is and tests pass in-process fakes
with the same methods. Views and refusals are the ports' own types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vanity_checkout.ports import (
    Address,
    Cart,
    Money,
    Payment,
    Reservation,
    User,
    Variants,
)


class InventoryForSaga(Protocol):
    async def reserve(
        self, order_id: str, lines: Sequence[tuple[str, int]], ttl_seconds: int
    ) -> Reservation: ...

    async def commit(self, order_id: str) -> Reservation: ...

    async def release(self, order_id: str, reason: str) -> Reservation: ...

    async def reservation(self, order_id: str) -> Reservation | None: ...

    async def restock(self, order_id: str, reason: str) -> Reservation: ...


class CatalogForSaga(Protocol):
    async def variants(self, skus: Sequence[str]) -> Variants: ...


class IdentityForSaga(Protocol):
    async def user(self, user_id: str) -> User | None: ...

    async def address(self, user_id: str, address_id: str) -> Address | None: ...


class CartForSaga(Protocol):
    async def lock(self, user_id: str, checkout_id: str) -> Cart: ...

    async def unlock(self, user_id: str, checkout_id: str) -> Cart: ...

    async def clear(self, user_id: str, checkout_id: str) -> Cart: ...


class PaymentsForSaga(Protocol):
    async def charge(
        self,
        *,
        idempotency_key: str,
        order_id: str,
        user_id: str,
        amount: Money,
        payment_method: str,
        capture: bool = False,
        description: str = "",
    ) -> Payment: ...

    async def capture(self, payment_id: str) -> Payment: ...

    async def void(self, payment_id: str, reason: str) -> Payment: ...

    async def refund(
        self, payment_id: str, idempotency_key: str, amount: Money | None, reason: str
    ) -> Payment: ...

    async def payment_for_order(self, order_id: str) -> Payment | None: ...


class SagaPorts(Protocol):
    """`vanity_checkout.ports.CheckoutPorts` has exactly these attributes."""

    @property
    def inventory(self) -> InventoryForSaga: ...

    @property
    def catalog(self) -> CatalogForSaga: ...

    @property
    def identity(self) -> IdentityForSaga: ...

    @property
    def cart(self) -> CartForSaga: ...

    @property
    def payments(self) -> PaymentsForSaga: ...
