"""Identity's Celery worker: `celery -A vanity_identity.worker worker -Q identity -B`."""

from __future__ import annotations

from vanity_common.tasks import make_celery, run_every

from vanity_identity.settings import load_settings

BEAT_SCHEDULE = run_every({"identity.purge_expired": 3600.0, "identity.relay_outbox": 30.0})

settings = load_settings()
celery_app = make_celery(settings, include=["vanity_identity.tasks"], beat_schedule=BEAT_SCHEDULE)
app = celery_app
