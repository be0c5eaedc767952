"""Checkout's gRPC servicer: orders for other services, and payments' asynchronous outcomes
(3-D Secure finished, a webhook) moving a waiting saga on."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from vanity.checkout.v1 import checkout_pb2 as pb
from vanity.checkout.v1 import checkout_pb2_grpc as pb_grpc
from vanity.common.v1 import common_pb2
from vanity_common.errors import FieldError, InvalidArgument

from vanity_checkout.bootstrap import CheckoutContainer
from vanity_checkout.domain import Order
from vanity_checkout.saga import CheckoutSaga

OUTCOMES = {
    pb.PAYMENT_OUTCOME_SUCCEEDED: "succeeded",
    pb.PAYMENT_OUTCOME_FAILED: "failed",
}


def order_message(order: Order) -> pb.Order:
    created = Timestamp()
    created.FromDatetime(order.created_at)
    message = pb.Order(
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
        refunded=common_pb2.Money(amount_minor=order.refunded_minor, currency=order.currency),
        payment_id=order.payment_id or "",
        created_at=created,
        failure_reason=order.failure_reason.value if order.failure_reason else "",
        client_secret=order.client_secret or "",
    )
    if order.tracking_number:
        message.tracking.CopyFrom(
            pb.Tracking(tracking_number=order.tracking_number, carrier=order.carrier or "")
        )
    return message


class CheckoutServicer(pb_grpc.CheckoutServiceServicer):
    def __init__(self, saga: CheckoutSaga) -> None:
        self.saga = saga

    async def GetOrder(self, request, context):
        return order_message(await self.saga.get_order(request.order_id))

    async def ReportPaymentOutcome(self, request, context):
        """Idempotent on provider_event_id; an outcome only wakes the saga, which asks payments
        for the truth, so duplicates and reordering lead to one result."""
        outcome = OUTCOMES.get(request.outcome)
        if outcome is None:
            raise InvalidArgument(
                "Unknown payment outcome.",
                errors=[FieldError("outcome", "PAYMENT_OUTCOME_SUCCEEDED or _FAILED")],
            )
        if not request.order_id:
            raise InvalidArgument(
                "An order id is required.", errors=[FieldError("order_id", "required")]
            )
        order = await self.saga.handle_payment_outcome(
            request.order_id,
            outcome=outcome,
            provider_event_id=request.provider_event_id,
            payment_id=request.payment_id,
            failure_reason=request.failure_reason,
        )
        return order_message(order)


def register(server, container: CheckoutContainer) -> list[str]:
    pb_grpc.add_CheckoutServiceServicer_to_server(CheckoutServicer(container.saga), server)
    return [pb.DESCRIPTOR.services_by_name["CheckoutService"].full_name]
