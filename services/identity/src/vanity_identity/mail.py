"""Outgoing e-mail: a folder of .eml files in development (`<data_dir>/mail/`), SMTP in
production (MAIL_BACKEND=smtp)."""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from vanity_identity.settings import IdentitySettings


def build_message(
    sender: str, to: str, subject: str, body: str, *, message_id: str | None = None
) -> EmailMessage:
    """`message_id`: the outbox message id, so a resend after a crash carries the same
    Message-ID and mail systems can recognise the duplicate."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = (
        f"<{message_id}@vanity.shop>" if message_id else make_msgid(domain="vanity.shop")
    )
    message.set_content(body)
    return message


class Mailer:
    async def send(self, message: EmailMessage) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class FileMailer(Mailer):
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _write(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(message.as_bytes())
        return path

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)


class SmtpMailer(Mailer):
    def __init__(self, settings: IdentitySettings) -> None:
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


def mailer_from_settings(settings: IdentitySettings) -> Mailer:
    if settings.mail_backend == "smtp":
        return SmtpMailer(settings)
    return FileMailer(settings.data_dir / "mail")
