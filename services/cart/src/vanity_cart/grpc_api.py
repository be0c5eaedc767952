"""Cart's gRPC servicer."""

from __future__ import annotations

from fastapi import FastAPI
from vanity.cart.v1 import cart_pb2 as pb
from vanity.cart.v1 import cart_pb2_grpc as pb_grpc
from vanity_common.errors import InvalidArgument

from vanity_cart.domain import Cart


def cart_message(cart: Cart) -> pb.Cart:
    return pb.Cart(
        user_id=cart.user_id,
        lines=[pb.CartLine(sku=line.sku, quantity=line.quantity) for line in cart.lines],
        version=cart.version,
        locked_by=cart.locked_by or "",
    )


class CartServicer(pb_grpc.CartServiceServicer):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def GetCart(self, request, context):
        if not request.user_id:
            raise InvalidArgument("user_id is required.")
        return cart_message(await self.app.state.cart.get_cart(request.user_id))


def register(server, app: FastAPI) -> list[str]:
    pb_grpc.add_CartServiceServicer_to_server(CartServicer(app), server)
    return [pb.DESCRIPTOR.services_by_name["CartService"].full_name]
