"""Payments' gRPC servicer."""

from __future__ import annotations

from fastapi import FastAPI
from vanity.common.v1 import common_pb2
from vanity.payments.v1 import payments_pb2 as pb
from vanity.payments.v1 import payments_pb2_grpc as pb_grpc

from vanity_payments.domain import Payment


def payment_message(p: Payment) -> pb.Payment:
    return pb.Payment(
        payment_id=p.id,
        order_id=p.order_id,
        status=pb.PaymentStatus.Value(f"PAYMENT_STATUS_{p.status.name}"),
        amount=common_pb2.Money(amount_minor=p.amount_minor, currency=p.currency),
        refunded=common_pb2.Money(amount_minor=p.refunded_minor, currency=p.currency),
        provider=p.provider,
        provider_reference=p.provider_reference or "",
        failure_reason=p.failure_reason or "",
    )


class PaymentsServicer(pb_grpc.PaymentsServiceServicer):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def GetPayment(self, request, context):
        payment = await self.app.state.payments.get_payment(
            payment_id=request.payment_id, order_id=request.order_id
        )
        return payment_message(payment)


def register(server, app: FastAPI) -> list[str]:
    pb_grpc.add_PaymentsServiceServicer_to_server(PaymentsServicer(app), server)
    return [pb.DESCRIPTOR.services_by_name["PaymentsService"].full_name]
