"""Checkout's gRPC servicer."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from vanity.checkout.v1 import checkout_pb2 as pb
from vanity.checkout.v1 import checkout_pb2_grpc as pb_grpc
from vanity.common.v1 import common_pb2
from vanity_common.errors import FailedPrecondition

from vanity_checkout.bootstrap import CheckoutContainer
from vanity_checkout.domain import Order
from vanity_checkout.service import OrderService


def order_message(order: Order) -> pb.Order:
    created = Timestamp()
    created.FromDatetime(order.created_at)
    return pb.Order(
        order_id=order.id,
        user_id=order.user_id,
        status=pb.OrderStatus.Value(f"ORDER_STATUS_{order.status.name}"),
        lines=[
            pb.OrderLine(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=common_pb2.Money(
                    amount_minor=line.unit_price_minor, currency=line.currency
                ),
            )
            for line in order.lines
        ],
        total=common_pb2.Money(amount_minor=order.total_minor, currency=order.currency),
        payment_id=order.payment_id or "",
        created_at=created,
    )


class CheckoutServicer(pb_grpc.CheckoutServiceServicer):
    def __init__(self, orders: OrderService) -> None:
        self.orders = orders

    async def GetOrder(self, request, context):
        return order_message(await self.orders.get_order(request.order_id))

    async def ReportPaymentOutcome(self, request, context):
        raise FailedPrecondition(
            "Asynchronous payment outcomes arrive with the checkout saga.",
            reason="NOT_IMPLEMENTED_YET",
        )


def register(server, container: CheckoutContainer) -> list[str]:
    pb_grpc.add_CheckoutServiceServicer_to_server(CheckoutServicer(container.orders), server)
    return [pb.DESCRIPTOR.services_by_name["CheckoutService"].full_name]
