"""Payments' gRPC servicer (proto/vanity/payments/v1): translates and delegates to the use
cases; errors are the chassis' (status code + `vanity-error-reason`)."""

from __future__ import annotations

from vanity.common.v1 import common_pb2
from vanity.payments.v1 import payments_pb2 as pb
from vanity.payments.v1 import payments_pb2_grpc as pb_grpc

from vanity_payments.bootstrap import PaymentsContainer
from vanity_payments.domain import Payment, PaymentStatus
from vanity_payments.service import ChargeCommand, PaymentService, RefundCommand


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
        # Only while the customer must act (3-D Secure): it lets the client finish.
        client_secret=(p.client_secret or "") if p.status is PaymentStatus.REQUIRES_ACTION else "",
    )


class PaymentsServicer(pb_grpc.PaymentsServiceServicer):
    def __init__(self, payments: PaymentService) -> None:
        self.payments = payments

    async def Charge(self, request: pb.ChargeRequest, context) -> pb.Payment:
        payment = await self.payments.charge(
            ChargeCommand(
                idempotency_key=request.idempotency_key,
                order_id=request.order_id,
                user_id=request.user_id,
                amount_minor=request.amount.amount_minor,
                currency=request.amount.currency,
                payment_method=request.payment_method,
                capture=request.capture,
            )
        )
        return payment_message(payment)

    async def Capture(self, request: pb.CaptureRequest, context) -> pb.Payment:
        return payment_message(await self.payments.capture(request.payment_id))

    async def Void(self, request: pb.VoidRequest, context) -> pb.Payment:
        return payment_message(await self.payments.void(request.payment_id, request.reason))

    async def Refund(self, request: pb.RefundRequest, context) -> pb.Payment:
        has_amount = request.HasField("amount")
        payment = await self.payments.refund(
            RefundCommand(
                payment_id=request.payment_id,
                idempotency_key=request.idempotency_key,
                amount_minor=request.amount.amount_minor if has_amount else None,
                currency=request.amount.currency if has_amount else None,
                actor="api",
                reason=request.reason,
            )
        )
        return payment_message(payment)

    async def GetPayment(self, request: pb.GetPaymentRequest, context) -> pb.Payment:
        payment = await self.payments.get_payment(
            payment_id=request.payment_id, order_id=request.order_id
        )
        return payment_message(payment)


def register(server, container: PaymentsContainer) -> list[str]:
    pb_grpc.add_PaymentsServiceServicer_to_server(PaymentsServicer(container.payments), server)
    return [pb.DESCRIPTOR.services_by_name["PaymentsService"].full_name]
