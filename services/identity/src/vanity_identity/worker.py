"""Identity's Celery worker: `celery -A vanity_identity.worker worker -Q identity -B`."""

from __future__ import annotations

from vanity_common.tasks import make_celery

from vanity_identity.settings import load_settings

BEAT_SCHEDULE = {
    "identity-purge-expired": {"task": "identity.purge_expired", "schedule": 3600.0},
    "identity-relay-outbox": {"task": "identity.relay_outbox", "schedule": 30.0},
}

settings = load_settings()
celery_app = make_celery(settings, include=["vanity_identity.tasks"], beat_schedule=BEAT_SCHEDULE)
app = celery_app
