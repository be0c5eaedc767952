"""Outgoing order e-mail: a folder of .eml files (`<data_dir>/mail/`, the development mailbox
identity writes its e-mails to as well). An SMTP backend is not wired yet for checkout."""

from __future__ import annotations

import asyncio
import os
import uuid
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from vanity_common.clock import utcnow


def build_message(
    sender: str, to: str, subject: str, body: str, *, message_id: str
) -> EmailMessage:
    """`message_id`: the outbox message id, so a resend after a crash carries the same
    Message-ID and mail systems can recognise the duplicate."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<{message_id}@vanity.shop>"
    message.set_content(body)
    return message


class FileMailer:
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
