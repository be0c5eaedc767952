"""Identity's Celery tasks (thin: run a use case on the worker's event loop)."""

from __future__ import annotations

import logging

from celery import shared_task
from vanity_common.tasks import bridge, reliable_task

from vanity_identity.bootstrap import IdentityContainer, build_container
from vanity_identity.service import IdentityService
from vanity_identity.settings import load_settings

log = logging.getLogger(__name__)


def container() -> IdentityContainer:
    """One container (engine, hasher, limiter) per worker process, on the bridge's loop."""
    return bridge.resource(
        "identity.container", lambda: build_container(load_settings(), pool_size=4)
    )


def _service() -> IdentityService:
    return container().identity


@reliable_task("identity.send_password_reset_email", bind=True, max_retries=5)
def send_password_reset_email(self, email: str) -> bool:
    """Creates a single-use reset token and e-mails the link (nothing for unknown addresses).
    Sent by the outbox relay with the message id as task id: a redelivered message is skipped
    (a crash between the e-mail and its record sends one more, equally valid link)."""
    return bridge.run(_service().send_password_reset(email, message_id=self.request.id))


@shared_task(name="identity.relay_outbox")
def relay_outbox() -> int:
    """Beat sweep: relays what the web process could not (broker down, process crashed)."""
    return bridge.run(_service().outbox.drain())


@shared_task(name="identity.purge_expired")
def purge_expired() -> dict[str, int]:
    done = bridge.run(_service().purge_expired())
    log.info("purged expired identity rows: %s", done)
    return done
