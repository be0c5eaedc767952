"""What checkout needs from the other services: one port per service, over gRPC.

Each port wraps the generated stub (`vanity_common.grpc_client.Port`), answers plain views
instead of protobuf messages, and turns the failures checkout acts on into the exceptions
below (by the `vanity-error-reason` the other service attached). Everything else becomes
`DependencyUnavailable` (unreachable, too slow: retry, the calls are idempotent, or ask again)
or `DependencyFailed`. Not found is an answer (`None`), not an error, where checkout asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vanity.cart.v1 import cart_pb2, cart_pb2_grpc
from vanity.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from vanity.common.v1 import common_pb2
from vanity.identity.v1 import identity_pb2, identity_pb2_grpc
from vanity.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from vanity.payments.v1 import payments_pb2, payments_pb2_grpc
from vanity_common.errors import FailedPrecondition
from vanity_common.grpc_client import ChannelPool, Port, RemoteFailure
from vanity_common.mapping import contract_enum, from_contract, view_from
from vanity_common.settings import ServiceSettings

from vanity_checkout.domain import ShippingAddress

# ---- outcomes checkout branches on ---------------------------------------------------------


class Refused(FailedPrecondition):
    """Another service refused a step for a reason checkout handles (409 if it reaches REST)."""

    def __init__(self, failure: RemoteFailure) -> None:
        super().__init__(failure.details or failure.reason or "refused", reason=failure.reason)
        self.failure = failure


class InsufficientStock(Refused):
    pass


class UnknownSku(Refused):
    pass


class ReservationMismatch(Refused):
    """The order id already holds a reservation with other lines."""


class ReservationClosed(Refused):
    """The reservation expired, was released, or (for Release) was already committed."""


class CartLocked(Refused):
    """Another checkout holds the cart."""


class CartEmpty(Refused):
    pass


class IdempotencyKeyReused(Refused):
    """A payment idempotency key was sent again with a different request."""


class PaymentRefused(Refused):
    """Payments refused a transition (capture, void, refund) in the payment's state."""


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str

    @classmethod
    def of(cls, message: common_pb2.Money) -> Money:
        return cls(int(message.amount_minor), message.currency)

    def message(self) -> common_pb2.Money:
        return common_pb2.Money(amount_minor=self.amount_minor, currency=self.currency)


# ---- inventory -------------------------------------------------------------------------------


# inventory.v1's reservation statuses: ReservationStatus.ACTIVE == "active", ...
ReservationStatus = contract_enum(
    "ReservationStatus", inventory_pb2.ReservationStatus, "RESERVATION_STATUS_"
)


@dataclass(frozen=True)
class SkuAvailability:
    sku: str
    known: bool
    available: int


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    order_id: str
    status: ReservationStatus
    lines: dict[str, int]
    expires_at: datetime | None


def _reservation(message: inventory_pb2.Reservation) -> Reservation:
    return view_from(
        Reservation,
        message,
        status=from_contract(ReservationStatus, message.status),
        lines={line.sku: int(line.quantity) for line in message.lines},
        expires_at=(
            message.expires_at.ToDatetime(tzinfo=UTC) if message.HasField("expires_at") else None
        ),
    )


class InventoryPort(Port):
    grpc_service = "vanity.inventory.v1.InventoryService"
    stub_type = inventory_pb2_grpc.InventoryServiceStub
    # Reserve, Commit, Release and Restock are idempotent per order id.
    idempotent_methods = (
        "GetAvailability",
        "GetReservation",
        "Reserve",
        "Commit",
        "Release",
        "Restock",
    )

    async def availability(self, skus: Sequence[str]) -> list[SkuAvailability]:
        response = await self.call(
            "GetAvailability", inventory_pb2.GetAvailabilityRequest(skus=list(skus))
        )
        return [SkuAvailability(i.sku, i.known, int(i.available)) for i in response.items]

    async def reserve(
        self, order_id: str, lines: Sequence[tuple[str, int]], ttl_seconds: int
    ) -> Reservation:
        request = inventory_pb2.ReserveRequest(
            order_id=order_id,
            lines=[inventory_pb2.ReservationLine(sku=s, quantity=q) for s, q in lines],
            ttl_seconds=ttl_seconds,
        )
        reasons = {
            "INSUFFICIENT_STOCK": InsufficientStock,
            "UNKNOWN_SKU": UnknownSku,
            "RESERVATION_MISMATCH": ReservationMismatch,
            "RESERVATION_RELEASED": ReservationClosed,
            "RESERVATION_COMMITTED": ReservationClosed,
            "RESERVATION_EXPIRED": ReservationClosed,
        }
        return _reservation(await self.call("Reserve", request, reasons=reasons))

    async def commit(self, order_id: str) -> Reservation:
        reasons = {
            "RESERVATION_EXPIRED": ReservationClosed,
            "RESERVATION_RELEASED": ReservationClosed,
        }
        response = await self.call(
            "Commit", inventory_pb2.CommitRequest(order_id=order_id), reasons=reasons
        )
        return _reservation(response)

    async def release(self, order_id: str, reason: str) -> Reservation:
        response = await self.call(
            "Release",
            inventory_pb2.ReleaseRequest(order_id=order_id, reason=reason),
            reasons={"RESERVATION_COMMITTED": ReservationClosed},
        )
        return _reservation(response)

    async def restock(self, order_id: str, reason: str) -> Reservation:
        """A committed order was cancelled: its units go back on hand (once per order)."""
        response = await self.call(
            "Restock",
            inventory_pb2.RestockRequest(order_id=order_id, reason=reason),
            reasons={"RESERVATION_NOT_COMMITTED": ReservationClosed},
        )
        return _reservation(response)

    async def reservation(self, order_id: str) -> Reservation | None:
        response = await self.find(
            "GetReservation",
            inventory_pb2.GetReservationRequest(order_id=order_id),
            not_found="RESERVATION_NOT_FOUND",
        )
        return _reservation(response) if response is not None else None


# ---- catalog ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    sku: str
    product_id: str
    product_slug: str
    product_name: str
    brand_name: str
    variant_name: str
    price: Money
    active: bool
    image_url: str


@dataclass(frozen=True)
class Variants:
    found: dict[str, Variant]
    unknown_skus: list[str]


class CatalogPort(Port):
    grpc_service = "vanity.catalog.v1.CatalogService"
    stub_type = catalog_pb2_grpc.CatalogServiceStub
    idempotent_methods = ("GetVariants",)

    async def variants(self, skus: Sequence[str]) -> Variants:
        response = await self.call("GetVariants", catalog_pb2.GetVariantsRequest(skus=list(skus)))
        found = {v.sku: view_from(Variant, v, price=Money.of(v.price)) for v in response.variants}
        return Variants(found, list(response.unknown_skus))


# ---- identity --------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    name: str
    roles: frozenset[str]
    disabled: bool


@dataclass(frozen=True)
class Address(ShippingAddress):
    """An entry of the user's address book at identity: the shipping fields and their owner."""

    user_id: str = ""


class IdentityPort(Port):
    grpc_service = "vanity.identity.v1.IdentityService"
    stub_type = identity_pb2_grpc.IdentityServiceStub
    idempotent_methods = ("GetUser", "GetAddress")

    async def user(self, user_id: str) -> User | None:
        u = await self.find(
            "GetUser", identity_pb2.GetUserRequest(user_id=user_id), not_found="USER_NOT_FOUND"
        )
        return (
            User(u.user_id, u.email, u.name, frozenset(u.roles), u.disabled)
            if u is not None
            else None
        )

    async def address(self, user_id: str, address_id: str) -> Address | None:
        """The user's own address; None when missing or another user's (identity checks)."""
        a = await self.find(
            "GetAddress",
            identity_pb2.GetAddressRequest(user_id=user_id, address_id=address_id),
            not_found="ADDRESS_NOT_FOUND",
        )
        return view_from(Address, a) if a is not None else None


# ---- cart ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cart:
    user_id: str
    lines: dict[str, int]
    version: int
    locked_by: str | None


def _cart(message: cart_pb2.Cart) -> Cart:
    return Cart(
        user_id=message.user_id,
        lines={line.sku: int(line.quantity) for line in message.lines},
        version=int(message.version),
        locked_by=message.locked_by or None,
    )


class CartPort(Port):
    grpc_service = "vanity.cart.v1.CartService"
    stub_type = cart_pb2_grpc.CartServiceStub
    # Lock, unlock and clear are idempotent per checkout id.
    idempotent_methods = ("GetCart", "LockCart", "UnlockCart", "ClearCart")

    async def cart(self, user_id: str) -> Cart:
        return _cart(await self.call("GetCart", cart_pb2.GetCartRequest(user_id=user_id)))

    async def lock(self, user_id: str, checkout_id: str) -> Cart:
        response = await self.call(
            "LockCart",
            cart_pb2.LockCartRequest(user_id=user_id, checkout_id=checkout_id),
            reasons={"CART_LOCKED": CartLocked, "CART_EMPTY": CartEmpty},
        )
        return _cart(response)

    async def unlock(self, user_id: str, checkout_id: str) -> Cart:
        request = cart_pb2.UnlockCartRequest(user_id=user_id, checkout_id=checkout_id)
        return _cart(await self.call("UnlockCart", request))

    async def clear(self, user_id: str, checkout_id: str) -> Cart:
        request = cart_pb2.ClearCartRequest(user_id=user_id, checkout_id=checkout_id)
        return _cart(await self.call("ClearCart", request))


# ---- payments --------------------------------------------------------------------------------


# payments.v1's payment statuses: PaymentStatus.CAPTURED == "captured", ...
PaymentStatus = contract_enum("PaymentStatus", payments_pb2.PaymentStatus, "PAYMENT_STATUS_")


@dataclass(frozen=True)
class Payment:
    payment_id: str
    order_id: str
    status: PaymentStatus
    amount: Money
    refunded: Money
    provider: str
    provider_reference: str
    failure_reason: str | None  # e.g. "card_declined" for a FAILED charge
    client_secret: str | None  # REQUIRES_ACTION: lets the client finish 3-D Secure


def _payment(message: payments_pb2.Payment) -> Payment:
    return view_from(
        Payment,
        message,
        status=from_contract(PaymentStatus, message.status),
        amount=Money.of(message.amount),
        refunded=Money.of(message.refunded),
        failure_reason=message.failure_reason or None,
        client_secret=message.client_secret or None,
    )


_PAYMENT_REFUSALS = {
    "ILLEGAL_TRANSITION": PaymentRefused,
    "PAYMENT_NOT_CAPTURED": PaymentRefused,
    "PAYMENT_CAPTURED": PaymentRefused,
    "CAPTURE_EXCEEDS_AUTHORIZED": PaymentRefused,
    "REFUND_EXCEEDS_CAPTURED": PaymentRefused,
    "IDEMPOTENCY_KEY_REUSED": IdempotencyKeyReused,
}


class PaymentsPort(Port):
    grpc_service = "vanity.payments.v1.PaymentsService"
    stub_type = payments_pb2_grpc.PaymentsServiceStub
    # Charge and Refund carry an idempotency key; Capture and Void act once per payment.
    idempotent_methods = ("Charge", "Capture", "Void", "Refund", "GetPayment")

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
    ) -> Payment:
        """A declined card is an answer (status FAILED with `failure_reason`), not an error."""
        request = payments_pb2.ChargeRequest(
            idempotency_key=idempotency_key,
            order_id=order_id,
            user_id=user_id,
            amount=amount.message(),
            payment_method=payment_method,
            capture=capture,
            description=description,
        )
        return _payment(await self.call("Charge", request, reasons=_PAYMENT_REFUSALS))

    async def capture(self, payment_id: str) -> Payment:
        request = payments_pb2.CaptureRequest(payment_id=payment_id)
        return _payment(await self.call("Capture", request, reasons=_PAYMENT_REFUSALS))

    async def void(self, payment_id: str, reason: str) -> Payment:
        request = payments_pb2.VoidRequest(payment_id=payment_id, reason=reason)
        return _payment(await self.call("Void", request, reasons=_PAYMENT_REFUSALS))

    async def refund(
        self, payment_id: str, idempotency_key: str, amount: Money | None, reason: str
    ) -> Payment:
        """`amount` None refunds the whole captured remainder."""
        request = payments_pb2.RefundRequest(
            payment_id=payment_id, idempotency_key=idempotency_key, reason=reason
        )
        if amount is not None:
            request.amount.CopyFrom(amount.message())
        return _payment(await self.call("Refund", request, reasons=_PAYMENT_REFUSALS))

    async def payment_for_order(self, order_id: str) -> Payment | None:
        """What payments knows about the order's payment: how the saga resolves an unknown
        outcome (a Charge that timed out) instead of guessing."""
        response = await self.find(
            "GetPayment",
            payments_pb2.GetPaymentRequest(order_id=order_id),
            not_found="PAYMENT_NOT_FOUND",
        )
        return _payment(response) if response is not None else None


@dataclass(frozen=True)
class CheckoutPorts:
    """Every service checkout calls; tests pass fakes with the same methods."""

    inventory: InventoryPort
    catalog: CatalogPort
    identity: IdentityPort
    cart: CartPort
    payments: PaymentsPort

    @classmethod
    def over_grpc(cls, channels: ChannelPool, settings: ServiceSettings) -> CheckoutPorts:
        return cls(
            inventory=InventoryPort.from_settings(channels, settings),
            catalog=CatalogPort.from_settings(channels, settings),
            identity=IdentityPort.from_settings(channels, settings),
            cart=CartPort.from_settings(channels, settings),
            payments=PaymentsPort.from_settings(channels, settings),
        )
