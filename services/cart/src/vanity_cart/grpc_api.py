"""Cart's gRPC servicer for checkout (thin: translate and delegate). Errors are `ServiceError`s
that the chassis interceptor turns into status codes plus the `vanity-error-reason` metadata."""

from __future__ import annotations

from vanity.cart.v1 import cart_pb2 as pb
from vanity.cart.v1 import cart_pb2_grpc as pb_grpc
from vanity.common.v1.common_pb2 import Money as MoneyMessage

from vanity_cart.bootstrap import CartContainer
from vanity_cart.domain import StockState
from vanity_cart.service import CartService, CartView, LineView, Money

_STATES = {
    StockState.IN_STOCK: pb.STOCK_STATE_IN_STOCK,
    StockState.LOW: pb.STOCK_STATE_LOW,
    StockState.OUT_OF_STOCK: pb.STOCK_STATE_OUT_OF_STOCK,
}


def _money(m: Money | None) -> MoneyMessage | None:
    return None if m is None else MoneyMessage(amount_minor=m.amount_minor, currency=m.currency)


def _line(line: LineView) -> pb.CartLine:
    message = pb.CartLine(sku=line.sku, quantity=line.quantity)
    if line.unit_price is not None:
        message.priced = True
        message.product_name = line.name or ""
        message.variant_name = line.variant_name or ""
        message.brand_name = line.brand or ""
        message.product_slug = line.product_slug or ""
        message.image_url = line.image_url or ""
        message.unit_price.CopyFrom(_money(line.unit_price))
        message.line_total.CopyFrom(_money(line.line_total))
        message.on_sale = bool(line.on_sale)
    if line.availability is not None:
        message.stock_known = True
        message.stock_state = _STATES[line.availability.state]
        message.buyable_quantity = line.availability.buyable_quantity
    return message


def cart_message(view: CartView) -> pb.Cart:
    message = pb.Cart(
        user_id=view.user_id or "",
        lines=[_line(line) for line in view.lines],
        version=view.version,
        locked_by=view.locked_by or "",
        item_count=view.item_count,
        degraded=list(view.degraded),
    )
    if (subtotal := _money(view.subtotal)) is not None:
        message.subtotal.CopyFrom(subtotal)
    return message


class CartServicer(pb_grpc.CartServiceServicer):
    def __init__(self, cart: CartService) -> None:
        self.cart = cart

    async def GetCart(self, request, context):
        return cart_message(await self.cart.get_user_cart(request.user_id))

    async def LockCart(self, request, context):
        return cart_message(await self.cart.lock_for_checkout(request.user_id, request.checkout_id))

    async def UnlockCart(self, request, context):
        view = await self.cart.unlock_for_checkout(request.user_id, request.checkout_id)
        return cart_message(view)

    async def ClearCart(self, request, context):
        view = await self.cart.clear_for_checkout(request.user_id, request.checkout_id)
        return cart_message(view)


def register(server, container: CartContainer) -> list[str]:
    pb_grpc.add_CartServiceServicer_to_server(CartServicer(container.cart), server)
    return [pb.DESCRIPTOR.services_by_name["CartService"].full_name]
