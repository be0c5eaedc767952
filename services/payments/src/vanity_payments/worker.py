"""Celery worker and beat for payments: `celery -A vanity_payments.worker worker -Q payments -B`."""

from __future__ import annotations

from vanity_common.tasks import make_celery

from vanity_payments.settings import PaymentsSettings, load_settings


def beat_schedule(settings: PaymentsSettings) -> dict[str, dict]:
    return {
        "payments-reconcile": {
            "task": "payments.reconcile",
            "schedule": settings.reconcile_interval_s,
        },
        "payments-purge-messages": {"task": "payments.purge_messages", "schedule": 86400.0},
        "payments-purge-idempotency-keys": {
            "task": "payments.purge_idempotency_keys",
            "schedule": 3600.0,
        },
    }


settings = load_settings()
BEAT_SCHEDULE = beat_schedule(settings)
celery_app = make_celery(settings, include=["vanity_payments.tasks"], beat_schedule=BEAT_SCHEDULE)
