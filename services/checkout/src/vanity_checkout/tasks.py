"""Checkout's Celery tasks (thin): each runs a use case with the worker's container."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from vanity_common.tasks import bridge, reliable_task

from vanity_checkout.bootstrap import CheckoutContainer, build_container
from vanity_checkout.settings import load_settings

log = logging.getLogger(__name__)


def container() -> CheckoutContainer:
    """One container per worker process, living on the bridge's event loop: the tasks reach
    the database and, through its ports, the other services over gRPC."""
    return bridge.resource(
        "checkout.container", lambda: build_container(load_settings(), pool_size=4)
    )


@reliable_task("checkout.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Deletes Idempotency-Key records older than 24 h (beat, hourly)."""
    return bridge.run(container().idempotency.purge_expired())


@shared_task(name="checkout.recover_sagas", ignore_result=True)
def recover_sagas() -> int:
    """Beat (every ~10 s) and once at worker start: resumes or compensates every saga whose
    lease lapsed (a killed run), whose retry came due, or whose 3-D Secure wait ran out. Leases
    make concurrent sweeps safe; a failed sweep is simply the next one's work. Then it sets the
    in-flight gauges (active sagas, the oldest one's age)."""
    saga = container().saga

    async def sweep() -> int:
        claimed = await saga.recover_expired_leases()
        await saga.report_in_flight()
        return claimed

    return bridge.run(sweep())


@shared_task(name="checkout.relay_outbox", ignore_result=True)
def relay_outbox() -> int:
    """Beat: delivers outbox rows the web process left (it relays right after each commit)."""
    return bridge.run(container().outbox.drain())


@reliable_task("checkout.send_order_email", bind=True, max_retries=5)
def send_order_email(self, order_id: str, user_id: str, kind: str, **facts) -> bool:
    """Order confirmed / cancelled / refunded / shipped. Sent by the outbox relay with the
    message id as task id: a redelivered message is skipped."""
    message_id = self.request.id or f"{order_id}:{kind}"
    return bridge.run(
        container().emails.send(message_id, order_id=order_id, user_id=user_id, kind=kind, **facts)
    )


@worker_ready.connect
def _recover_on_start(sender=None, **_kwargs) -> None:
    """A worker that starts (after a crash, a deploy) sweeps at once rather than at the next beat."""
    try:
        recover_sagas.delay()
    except Exception:  # the broker is not reachable yet: the beat sweep follows
        log.warning("could not queue the start-up saga recovery", exc_info=True)
