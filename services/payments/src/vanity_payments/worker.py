"""Celery worker and beat for payments: `celery -A vanity_payments.worker worker -Q payments -B`."""

from __future__ import annotations

from vanity_common.tasks import make_celery, run_every

from vanity_payments.settings import PaymentsSettings, load_settings


def beat_schedule(settings: PaymentsSettings) -> dict[str, dict]:
    return run_every(
        {
            "payments.reconcile": settings.reconcile_interval_s,
            "payments.purge_messages": 86400.0,
            "payments.purge_idempotency_keys": 3600.0,
        }
    )


settings = load_settings()
BEAT_SCHEDULE = beat_schedule(settings)
celery_app = make_celery(settings, include=["vanity_payments.tasks"], beat_schedule=BEAT_SCHEDULE)
