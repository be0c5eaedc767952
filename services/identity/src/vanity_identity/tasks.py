"""Identity's Celery tasks (thin: run a use case on the worker's event loop)."""

from __future__ import annotations

import logging

from celery import shared_task
from vanity_common.db import Database
from vanity_common.tasks import bridge

from vanity_identity.settings import load_settings

log = logging.getLogger(__name__)


def _make_service():
    from vanity_identity.app import build_service, load_keys

    s = load_settings()
    return build_service(s, Database(s.database_url, pool_size=s.db_pool_size), load_keys(s))


def _service():
    """One service (engine, hasher, limiter) per worker process, on the bridge's loop."""
    return bridge.resource("identity-service", _make_service)


@shared_task(name="identity.send_password_reset_email", acks_late=True, max_retries=5)
def send_password_reset_email(email: str) -> bool:
    """Creates a single-use reset token and e-mails the link (nothing for unknown addresses).
    Redelivery after a crash sends a second, equally valid link: harmless, both expire."""
    return bridge.run(_service().send_password_reset(email))


@shared_task(name="identity.purge_expired")
def purge_expired() -> dict[str, int]:
    done = bridge.run(_service().purge_expired())
    log.info("purged expired identity rows: %s", done)
    return done
