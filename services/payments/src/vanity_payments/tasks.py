"""Payments' Celery tasks (thin): each runs a use case with the worker's container."""

from __future__ import annotations

import logging
from datetime import timedelta

from vanity_common.outbox import purge
from vanity_common.tasks import bridge, reliable_task

from vanity_payments.bootstrap import PaymentsContainer, build_container
from vanity_payments.settings import load_settings

log = logging.getLogger(__name__)


def container() -> PaymentsContainer:
    """One container per worker process, living on the bridge's event loop: reconciliation
    reaches the provider and, through its port, checkout over gRPC."""
    return bridge.resource(
        "payments.container", lambda: build_container(load_settings(), pool_size=4)
    )


@reliable_task("payments.reconcile", soft_time_limit=240, time_limit=300)
def reconcile() -> dict:
    """Beat: payments stuck open or authorized, brought to the provider's truth; authorizations
    whose order is gone are voided. Idempotent: a second run finds nothing left to change."""
    report = bridge.run(container().payments.reconcile_stuck())
    log.info(
        "payments reconciled",
        extra={
            "event": "payments_reconciled",
            "checked": report.checked,
            "changed": report.changed,
            "mismatches": report.mismatches,
            "orphans_voided": report.orphans_voided,
            "errors": report.errors,
        },
    )
    return {
        "checked": report.checked,
        "changed": report.changed,
        "mismatches": report.mismatches,
        "orphans_voided": report.orphans_voided,
        "errors": report.errors,
    }


@reliable_task("payments.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Deletes Idempotency-Key records older than 24 h (beat, hourly)."""
    return bridge.run(container().idempotency.purge_expired())


# Stripe retries an undelivered event for up to 3 days: keep its dedupe record well past that.
PROCESSED_RETENTION = timedelta(days=30)
SENT_RETENTION = timedelta(days=7)


@reliable_task("payments.purge_messages")
def purge_messages() -> dict:
    """Deletes delivered outbox rows and old webhook dedupe records (beat, daily)."""
    services = container()
    now = services.clock()
    sent, processed = bridge.run(
        purge(
            services.db,
            sent_before=now - SENT_RETENTION,
            processed_before=now - PROCESSED_RETENTION,
        )
    )
    return {"outbox_rows": sent, "processed_messages": processed}
