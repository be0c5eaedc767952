"""What payments needs from the other services: checkout, over gRPC.

Payments tells checkout the outcome of a payment that finished outside `Charge` (3-D Secure, a
webhook, reconciliation) and asks whether an order still exists before voiding its
authorization. Not found is an answer (`None`); other failures become the chassis'
`DependencyUnavailable` / `DependencyFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from vanity.checkout.v1 import checkout_pb2, checkout_pb2_grpc
from vanity_common.grpc_client import Port
from vanity_common.mapping import contract_enum, from_contract

# checkout.v1's order statuses: OrderStatus.CONFIRMED == "confirmed", ...
OrderStatus = contract_enum("OrderStatus", checkout_pb2.OrderStatus, "ORDER_STATUS_")


# An order in one of these no longer wants its payment's authorization.
CLOSED_ORDER_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.FAILED})


class PaymentOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Order:
    order_id: str
    status: OrderStatus
    payment_id: str


def _order(message: checkout_pb2.Order) -> Order:
    return Order(message.order_id, from_contract(OrderStatus, message.status), message.payment_id)


_OUTCOMES = {
    PaymentOutcome.SUCCEEDED: checkout_pb2.PAYMENT_OUTCOME_SUCCEEDED,
    PaymentOutcome.FAILED: checkout_pb2.PAYMENT_OUTCOME_FAILED,
}


class CheckoutPort(Port):
    grpc_service = "vanity.checkout.v1.CheckoutService"
    stub_type = checkout_pb2_grpc.CheckoutServiceStub
    # ReportPaymentOutcome is idempotent on provider_event_id.
    idempotent_methods = ("GetOrder", "ReportPaymentOutcome")

    async def order(self, order_id: str) -> Order | None:
        response = await self.find(
            "GetOrder", checkout_pb2.GetOrderRequest(order_id=order_id), not_found="ORDER_NOT_FOUND"
        )
        return _order(response) if response is not None else None

    async def report_payment_outcome(
        self,
        *,
        order_id: str,
        payment_id: str,
        outcome: PaymentOutcome,
        provider_event_id: str,
        failure_reason: str = "",
    ) -> Order | None:
        """None when checkout has no such order (nothing to tell)."""
        request = checkout_pb2.ReportPaymentOutcomeRequest(
            order_id=order_id,
            payment_id=payment_id,
            outcome=_OUTCOMES[outcome],
            provider_event_id=provider_event_id,
            failure_reason=failure_reason,
        )
        response = await self.find("ReportPaymentOutcome", request, not_found="ORDER_NOT_FOUND")
        return _order(response) if response is not None else None
