"""Password reset: the request (rate limited, an outbox row relayed to the Celery task), the
e-mail the task sends once per message, and the confirmation."""

from __future__ import annotations

import logging
from typing import Protocol

from vanity_common.errors import FieldError, InvalidArgument
from vanity_common.mail import build_message
from vanity_common.outbox import OutboxMessage, OutboxRelay, once_per_message
from vanity_common.tasks import CelerySender
from vanity_common.uow import UnitOfWork

from vanity_identity import repository as repo
from vanity_identity.domain import User, expiry, lookup_email
from vanity_identity.service.base import IdentityParts, too_many
from vanity_identity.throttle import Throttle
from vanity_identity.tokens import hash_token, new_opaque_token

log = logging.getLogger(__name__)


RESET_TASK = "identity.send_password_reset_email"


class TaskSender(Protocol):
    """Sends an outbox message as the Celery task it names (`vanity_common.tasks.CelerySender`)."""

    async def deliver(self, message: OutboxMessage) -> None: ...


class PasswordReset(IdentityParts):
    _task_sender: TaskSender | None
    outbox: OutboxRelay

    @property
    def task_sender(self) -> TaskSender:
        if self._task_sender is None:  # built on first use: no broker needed to start
            self._task_sender = CelerySender(self.settings)
        return self._task_sender

    @task_sender.setter
    def task_sender(self, sender: TaskSender) -> None:
        self._task_sender = sender

    async def _send_task(self, message: OutboxMessage) -> None:
        await self.task_sender.deliver(message)

    async def screen_password_reset(self, email: str, *, ip: str) -> str | None:
        """Rate limits of a reset request: per IP a 429; per address a silent drop (the answer
        stays 202 so it reveals nothing). Returns the address to e-mail, or None."""
        verdict = await self.throttle.hit(("reset_ip", ip))
        if not verdict.allowed:
            raise too_many(verdict.retry_after, "password reset requests")
        address = lookup_email(email)
        if not (await self.throttle.hit(("reset_email", Throttle.subject(address)))).allowed:
            log.info("password reset for one address throttled")
            return None
        return address

    async def request_password_reset(self, email: str, *, ip: str) -> str | None:
        """The HTTP use case: after the rate limits, the e-mail job is written to the outbox in
        its own transaction (it survives a crash, a broker or a worker that is down) and relayed
        to the Celery task right after the commit. Returns the message id, None when throttled.
        The account is looked up by the task, so the answer's timing reveals nothing."""
        address = await self.screen_password_reset(email, ip=ip)
        if address is None:
            return None
        message_id = await self.db.write(lambda uow: uow.enqueue_task(RESET_TASK, address))
        await self.outbox.deliver([message_id])  # a failure stays in the outbox for the sweep
        return message_id

    async def send_password_reset(self, email: str, message_id: str | None = None) -> bool:
        """The task's use case: creates a single-use token and e-mails the link. Unknown and
        disabled accounts get nothing (the HTTP answer was the same 202 either way). With the
        outbox message id, a redelivered message sends nothing more."""
        if message_id is None:
            return await self._send_password_reset(email, None)
        sent = False

        async def send_once() -> None:
            nonlocal sent
            sent = await self._send_password_reset(email, message_id)

        await once_per_message(self.db, RESET_TASK, message_id, send_once)
        return sent

    async def _send_password_reset(self, email: str, message_id: str | None) -> bool:
        address = lookup_email(email)
        now = self.now()
        token = new_opaque_token()

        async def issue_token(uow: UnitOfWork) -> User | None:
            found = await repo.user_with_hash_by_email(uow.conn, address)
            if found is None or found[0].disabled:
                return None
            user = found[0]
            await repo.insert_reset_token(
                uow.conn,
                token_hash=hash_token(token),
                user_id=user.id,
                now=now,
                expires_at=expiry(now, self.settings.reset_token_ttl_seconds),
            )
            return user

        user = await self.db.write(issue_token)
        if user is None:
            return False
        minutes = self.settings.reset_token_ttl_seconds // 60
        link = self.settings.password_reset_url.format(token=token)
        body = (
            f"Hello {user.name},\n\n"
            "Someone (hopefully you) asked to reset the password of your Vanity account.\n"
            f"Choose a new password here within {minutes} minutes:\n\n{link}\n\n"
            "The link works once. If you did not ask for it, ignore this e-mail: your password\n"
            "stays unchanged.\n\n-- Vanity\n"
        )
        await self.mailer.send(
            build_message(
                self.settings.mail_from,
                user.email,
                "Reset your Vanity password",
                body,
                message_id=message_id,
            )
        )
        return True

    async def confirm_password_reset(self, token: str, new_password: str) -> None:
        invalid = InvalidArgument(
            "This password reset link is invalid or has expired.",
            reason="INVALID_RESET_TOKEN",
            errors=[FieldError("token", "invalid, used or expired")],
        )
        token_hash = hash_token(token)
        now = self.now()
        async with self.db.connect() as conn:
            user_id = await repo.consume_reset_token_peek(conn, token_hash, now)
            user = await repo.user_by_id(conn, user_id) if user_id else None
        if user is None or user.disabled:
            raise invalid
        self._check_password(new_password, user.email, user.name, "new_password")
        new_hash = await self.passwords.hash(new_password)

        async def replace_password(uow: UnitOfWork) -> None:
            if await repo.consume_reset_token(uow.conn, token_hash, now) != user.id:
                raise invalid
            await repo.update_user(
                uow.conn, user.id, now, password_hash=new_hash, password_changed_at=now
            )
            await repo.revoke_sessions(uow.conn, now=now, reason="password_reset", user_id=user.id)
            await repo.invalidate_reset_tokens(uow.conn, user.id, now)

        await self.db.write(replace_password)
        await self.throttle.clear("login_account", Throttle.subject(user.email))
