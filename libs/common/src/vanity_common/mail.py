"""Outgoing e-mail for any service: a folder of .eml files in development (the dev mailbox,
`<data_dir>/mail/` unless MAIL_DIR says otherwise), SMTP in production (MAIL_BACKEND=smtp).

A service that sends e-mail derives its settings from `MailSettings` and builds its mailer with
`mailer_from_settings(settings)`. Sending runs in a thread (smtplib and file writes block).
Messages carry the outbox message id as their Message-ID (`build_message`), so a resend after
a crash is recognisable as the same e-mail.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal, Protocol

from pydantic import SecretStr

from vanity_common.clock import utcnow
from vanity_common.settings import ServiceSettings

MESSAGE_ID_DOMAIN = "vanity.shop"


class MailSettings(ServiceSettings):
    """The settings of a service that sends e-mail (per-service or plain variables, like every
    setting: IDENTITY_SMTP_HOST or SMTP_HOST)."""

    mail_backend: Literal["file", "smtp"] = "file"
    mail_from: str = "Vanity <no-reply@vanity.shop>"
    # The development mailbox (MAIL_BACKEND=file); unset: `<data_dir>/mail`, shared by services.
    mail_dir: Path | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 10.0

    @property
    def mailbox(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.mail_backend != "smtp":
            problems.append("MAIL_BACKEND is 'file'; production sends e-mail over SMTP")
        return problems


def build_message(
    sender: str, to: str, subject: str, body: str, *, message_id: str | None = None
) -> EmailMessage:
    """`message_id`: the outbox message id, so a resend after a crash carries the same
    Message-ID and mail systems can recognise the duplicate; None: a fresh one."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = (
        f"<{message_id}@{MESSAGE_ID_DOMAIN}>"
        if message_id
        else make_msgid(domain=MESSAGE_ID_DOMAIN)
    )
    message.set_content(body)
    return message


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class FileMailer:
    """The development mailbox: one private .eml file per message, never overwritten."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _write(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(message.as_bytes())
        return path

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)


class SmtpMailer:
    """One SMTP connection per message (implicit TLS, or STARTTLS; login when configured)."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        with client:
            if s.smtp_starttls and not s.smtp_ssl:
                client.starttls(context=context)
            if s.smtp_username and s.smtp_password:
                client.login(s.smtp_username, s.smtp_password.get_secret_value())
            client.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)


def mailer_from_settings(settings: MailSettings) -> Mailer:
    if settings.mail_backend == "smtp":
        return SmtpMailer(settings)
    return FileMailer(settings.mailbox)
