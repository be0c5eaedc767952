"""Payments calling checkout over real gRPC (a stand-in CheckoutService on a free port): the
port's mapping, the outbox handler that reports outcomes, and the reconciliation Celery task
running as in a worker process (its container built from the environment)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import grpc
from vanity.checkout.v1 import checkout_pb2, checkout_pb2_grpc
from vanity_common.grpc_client import ChannelPool
from vanity_common.migrations import migrate
from vanity_common.outbox import OutboxMessage
from vanity_common.tasks import AsyncBridge
from vanity_payments import tasks as payment_tasks
from vanity_payments.bootstrap import build_container
from vanity_payments.delivery import OutcomeReporter
from vanity_payments.domain import PaymentStatus
from vanity_payments.ports import CheckoutPort, OrderStatus, PaymentOutcome
from vanity_payments.service import ChargeCommand
from vanity_payments.settings import PaymentsSettings


class CheckoutStandIn(checkout_pb2_grpc.CheckoutServiceServicer):
    """Checkout's contract as payments relies on it; unknown orders are NOT_FOUND with the
    ORDER_NOT_FOUND reason, as the chassis' error model sends them."""

    def __init__(self, orders: dict[str, int]) -> None:
        self.orders = orders
        self.reports: list[checkout_pb2.ReportPaymentOutcomeRequest] = []

    async def _order(self, order_id: str, context) -> checkout_pb2.Order:
        if order_id not in self.orders:
            context.set_trailing_metadata((("vanity-error-reason", "ORDER_NOT_FOUND"),))
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        return checkout_pb2.Order(order_id=order_id, status=self.orders[order_id])

    async def GetOrder(self, request, context):
        return await self._order(request.order_id, context)

    async def ReportPaymentOutcome(self, request, context):
        order = await self._order(request.order_id, context)
        self.reports.append(request)
        return order


async def serve(stand_in: CheckoutStandIn) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    checkout_pb2_grpc.add_CheckoutServiceServicer_to_server(stand_in, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def test_port_and_outcome_reporter_over_grpc():
    stand_in = CheckoutStandIn({"order-1": checkout_pb2.ORDER_STATUS_AWAITING_PAYMENT})
    server, port = await serve(stand_in)
    channels = ChannelPool("payments")
    try:
        checkout = CheckoutPort(channels, f"127.0.0.1:{port}")
        order = await checkout.order("order-1")
        assert order is not None and order.status is OrderStatus.AWAITING_PAYMENT
        assert await checkout.order("order-404") is None
        reporter = OutcomeReporter(checkout)
        payload = {
            "order_id": "order-1",
            "payment_id": "pay-1",
            "status": "authorized",
            "outcome": PaymentOutcome.SUCCEEDED.value,
            "provider_event_id": "evt_1",
            "failure_reason": "",
        }
        await reporter(
            OutboxMessage("m1", "payments.payment_outcome", payload, 0, datetime.now(UTC))
        )
        # An order checkout no longer knows: delivered (nothing to tell), not retried forever.
        await reporter(
            OutboxMessage(
                "m2",
                "payments.payment_outcome",
                {**payload, "order_id": "order-404"},
                0,
                datetime.now(UTC),
            )
        )
        [report] = stand_in.reports
        assert (report.order_id, report.payment_id, report.provider_event_id) == (
            "order-1",
            "pay-1",
            "evt_1",
        )
        assert report.outcome == checkout_pb2.PAYMENT_OUTCOME_SUCCEEDED
    finally:
        await channels.close()
        await server.stop(None)


def test_reconcile_task_voids_an_orphan_authorization_through_the_worker_container(
    tmp_path, monkeypatch
):
    """The beat task as a worker runs it: synchronously, on the bridge's loop, with the worker's
    container (provider on payments' tables, checkout over gRPC)."""
    ready = threading.Event()
    box: dict = {}
    stand_in = CheckoutStandIn({"order-alive": checkout_pb2.ORDER_STATUS_PENDING})

    def serve_checkout() -> None:
        async def main() -> None:
            server, box["port"] = await serve(stand_in)
            box["stop"] = asyncio.Event()
            box["loop"] = asyncio.get_running_loop()
            ready.set()
            await box["stop"].wait()
            await server.stop(None)

        asyncio.run(main())

    thread = threading.Thread(target=serve_checkout, daemon=True)
    thread.start()
    assert ready.wait(30), "checkout stand-in did not start"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}"
    env = {
        "PAYMENTS_DATA_DIR": str(tmp_path),
        "PAYMENTS_DATABASE_URL": database_url,
        "PAYMENTS_CHECKOUT_GRPC_TARGET": f"127.0.0.1:{box['port']}",
        "PAYMENTS_RECONCILE_AUTHORIZED_AFTER_S": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    worker_bridge = AsyncBridge()
    monkeypatch.setattr(payment_tasks, "bridge", worker_bridge)

    async def authorize_two() -> dict[str, str]:
        await migrate("vanity_payments", database_url)
        async with build_container(PaymentsSettings(), run_relay=False) as web:
            ids = {}
            for order_id in ("order-gone", "order-alive"):
                payment = await web.payments.charge(
                    ChargeCommand(
                        f"{order_id}:charge", order_id, "user-1", 5_000, "EUR", "pm_card_visa"
                    )
                )
                assert payment.status is PaymentStatus.AUTHORIZED
                ids[order_id] = payment.id
            return ids

    try:
        ids = asyncio.run(authorize_two())
        result = payment_tasks.reconcile.apply().get()
        assert result["checked"] == 2 and result["orphans_voided"] == 1
        services = payment_tasks.container()
        gone = worker_bridge.run(services.payments.get_payment(payment_id=ids["order-gone"]))
        alive = worker_bridge.run(services.payments.get_payment(payment_id=ids["order-alive"]))
        assert (gone.status, alive.status) == (PaymentStatus.VOIDED, PaymentStatus.AUTHORIZED)
        # Idempotent: the next run voids nothing more.
        assert payment_tasks.reconcile.apply().get()["orphans_voided"] == 0
        worker_bridge.run(services.aclose())
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)


def test_every_order_status_checkout_can_send_is_understood():
    """Checkout's contract grows (partially refunded, shipped): the port must read every value
    rather than fail on the newest."""
    from vanity_payments.ports import _order

    for name, number in checkout_pb2.OrderStatus.items():
        order = _order(checkout_pb2.Order(order_id="o-1", status=number, payment_id="p-1"))
        assert order.status.value == name.removeprefix("ORDER_STATUS_").lower()
