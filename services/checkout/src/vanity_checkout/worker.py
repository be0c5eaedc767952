"""Celery worker and beat for checkout: `celery -A vanity_checkout.worker worker -Q checkout -B`."""

from __future__ import annotations

from vanity_common.tasks import make_celery

from vanity_checkout.settings import load_settings

settings = load_settings()

BEAT_SCHEDULE = {
    "checkout-purge-idempotency-keys": {
        "task": "checkout.purge_idempotency_keys",
        "schedule": 3600.0,
    },
    "checkout-recover-sagas": {
        "task": "checkout.recover_sagas",
        "schedule": settings.saga_recovery_interval_seconds,
    },
    "checkout-relay-outbox": {"task": "checkout.relay_outbox", "schedule": 30.0},
}

celery_app = make_celery(settings, include=["vanity_checkout.tasks"], beat_schedule=BEAT_SCHEDULE)
