"""Identity use cases by feature, one transaction each, callable from REST, gRPC, tasks and the
CLI. `IdentityService` is the one object the container holds: the feature classes share its
dependencies (one clock, one outbox relay), each in its own module:

- `accounts`: sign-up, profile, password change, the account check behind every request;
- `sessions`: sign-in, refresh-token rotation, sign-out, ended sessions, purge;
- `password_reset`: request (outbox → Celery task), the e-mail, confirmation;
- `addresses`: the address book;
- `admin`: account administration, the acting admin checked here.
"""

from __future__ import annotations

from vanity_common.clock import Clock, utcnow
from vanity_common.db import Database
from vanity_common.mail import Mailer
from vanity_common.outbox import OutboxRelay

from vanity_identity.passwords import Passwords
from vanity_identity.service.accounts import Accounts
from vanity_identity.service.addresses import Addresses
from vanity_identity.service.admin import USERS_PERMISSION, Administration
from vanity_identity.service.password_reset import RESET_TASK, PasswordReset, TaskSender
from vanity_identity.service.sessions import (
    INVALID_CREDENTIALS,
    MAX_ENDED_PAGE,
    PURGE_GRACE,
    EndedSessionsPage,
    Sessions,
    TokenPair,
)
from vanity_identity.settings import IdentitySettings
from vanity_identity.throttle import Throttle
from vanity_identity.tokens import AccessTokenIssuer

__all__ = [
    "INVALID_CREDENTIALS",
    "MAX_ENDED_PAGE",
    "PURGE_GRACE",
    "RESET_TASK",
    "USERS_PERMISSION",
    "EndedSessionsPage",
    "IdentityService",
    "TaskSender",
    "TokenPair",
]


class IdentityService(Accounts, Sessions, PasswordReset, Addresses, Administration):
    def __init__(
        self,
        db: Database,
        settings: IdentitySettings,
        issuer: AccessTokenIssuer,
        passwords: Passwords,
        throttle: Throttle,
        mailer: Mailer,
        clock: Clock = utcnow,
        task_sender: TaskSender | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.issuer = issuer
        self.passwords = passwords
        self.throttle = throttle
        self.mailer = mailer
        self.clock = clock
        self._task_sender = task_sender
        # The reset e-mail's way out: an outbox row, relayed to the Celery task after commit.
        self.outbox = OutboxRelay(db, {RESET_TASK: self._send_task}, service="identity")
