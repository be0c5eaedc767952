"""Celery worker and beat for checkout: `celery -A vanity_checkout.worker worker -Q checkout -B`."""

from __future__ import annotations

from vanity_common.tasks import make_celery, run_every

from vanity_checkout.settings import load_settings

settings = load_settings()

BEAT_SCHEDULE = run_every(
    {
        "checkout.purge_idempotency_keys": 3600.0,
        "checkout.recover_sagas": settings.saga_recovery_interval_seconds,
        "checkout.relay_outbox": 30.0,
    }
)

celery_app = make_celery(settings, include=["vanity_checkout.tasks"], beat_schedule=BEAT_SCHEDULE)
