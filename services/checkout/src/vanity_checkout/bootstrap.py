"""Checkout's composition root: database, ports to the five services the saga drives, the saga
and the e-mails, built without FastAPI for the web app, the gRPC servicer, the Celery worker
(one per worker process: the saga recovery sweep calls the other services from there) and the
CLI."""

from __future__ import annotations

from dataclasses import dataclass

from vanity_common.bootstrap import Clock, ServiceContainer, utcnow
from vanity_common.db import Database
from vanity_common.grpc_client import ChannelPool
from vanity_common.mail import Mailer, mailer_from_settings
from vanity_common.outbox import OutboxMessage, OutboxRelay

from vanity_checkout.ports import CheckoutPorts
from vanity_checkout.saga import ORDER_EMAIL_TASK, RESTOCK_TOPIC, CheckoutSaga, SagaSettings
from vanity_checkout.saga_ports import SagaPorts
from vanity_checkout.service import OrderEmails, OrderQueries, Restocks
from vanity_checkout.settings import CheckoutSettings, load_settings


class _TaskSender:
    """Sends an outbox row as the Celery task it names; the broker client is made on first use
    (no broker is needed to start, nor in tests that replace it)."""

    def __init__(self, settings: CheckoutSettings) -> None:
        self.settings = settings
        self._sender = None

    async def deliver(self, message: OutboxMessage) -> None:
        if self._sender is None:
            from vanity_common.tasks import CelerySender

            self._sender = CelerySender(self.settings)
        await self._sender.deliver(message)


@dataclass(kw_only=True, eq=False)
class CheckoutContainer(ServiceContainer):
    settings: CheckoutSettings
    ports: SagaPorts
    saga: CheckoutSaga
    emails: OrderEmails
    orders: OrderQueries
    outbox: OutboxRelay

    def outbox_relays(self) -> list[OutboxRelay]:
        return [self.outbox]  # order e-mails (to the Celery worker) and restocks (to inventory)


def saga_settings(settings: CheckoutSettings) -> SagaSettings:
    return SagaSettings(
        reservation_ttl_seconds=settings.reservation_ttl_seconds,
        payment_wait_margin_seconds=settings.payment_wait_margin_seconds,
        lease_seconds=settings.saga_lease_seconds,
        retry_base_seconds=settings.saga_retry_base_seconds,
        retry_max_seconds=settings.saga_retry_max_seconds,
        max_forward_attempts=settings.saga_max_forward_attempts,
        recovery_batch=settings.saga_recovery_batch,
    )


def build_container(
    settings: CheckoutSettings | None = None,
    *,
    clock: Clock = utcnow,
    ports: SagaPorts | None = None,
    db: Database | None = None,
    channels: ChannelPool | None = None,
    pool_size: int | None = None,
    mailer: Mailer | None = None,
    task_sender=None,
    worker_id: str | None = None,
) -> CheckoutContainer:
    """Tests pass fake `ports`, a clock, a database, a mailer or a task sender (an object with
    `async deliver(OutboxMessage)`); the rest comes from the settings."""
    settings = settings or load_settings()
    core = CheckoutContainer.core(settings, db=db, channels=channels, pool_size=pool_size)
    ports = ports or CheckoutPorts.over_grpc(core["channels"], settings)
    saga = CheckoutSaga(
        core["db"], ports, clock=clock, settings=saga_settings(settings), worker_id=worker_id
    )
    sender = task_sender or _TaskSender(settings)
    outbox = OutboxRelay(
        core["db"],
        {ORDER_EMAIL_TASK: sender.deliver, RESTOCK_TOPIC: Restocks(ports.inventory)},
        service="checkout",
    )
    emails = OrderEmails(
        core["db"],
        ports.identity,
        mailer or mailer_from_settings(settings),
        settings.mail_from,
    )
    container = CheckoutContainer(
        **core,
        clock=clock,
        ports=ports,
        saga=saga,
        emails=emails,
        orders=OrderQueries(core["db"]),
        outbox=outbox,
    )
    # Runs that outlived their request get a moment to finish; the rest are resumed by recovery.
    container.on_close(saga.aclose)
    return container
