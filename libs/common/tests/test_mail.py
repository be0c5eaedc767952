"""The chassis' e-mail: the development mailbox (a folder of .eml files) and the settings that
choose between it and SMTP."""

from __future__ import annotations

import stat
from email import message_from_bytes, policy
from typing import ClassVar

from vanity_common.mail import (
    FileMailer,
    MailSettings,
    SmtpMailer,
    build_message,
    mailer_from_settings,
)


class ShopSettings(MailSettings):
    service_name: ClassVar[str] = "shop"


async def test_the_dev_mailbox_keeps_every_message_as_a_private_file(tmp_path):
    mailer = mailer_from_settings(ShopSettings(data_dir=tmp_path))
    assert isinstance(mailer, FileMailer) and mailer.folder == tmp_path / "mail"
    for _ in range(2):  # the same outbox message sent twice: two files, one Message-ID
        await mailer.send(
            build_message("Shop <a@b.c>", "ada@example.com", "Hi", "Body", message_id="m-1")
        )
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    mail = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert (mail["To"], mail["Subject"], mail["Message-ID"]) == (
        "ada@example.com",
        "Hi",
        "<m-1@vanity.shop>",
    )
    assert mail.get_content().strip() == "Body"


def test_a_message_without_an_outbox_id_gets_a_fresh_message_id():
    first = build_message("a@b.c", "d@e.f", "s", "b")["Message-ID"]
    assert first != build_message("a@b.c", "d@e.f", "s", "b")["Message-ID"]


def test_settings_choose_the_mailbox_folder_or_smtp(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_MAIL_DIR", str(tmp_path / "outbox-mail"))
    assert mailer_from_settings(ShopSettings()).folder == tmp_path / "outbox-mail"
    monkeypatch.setenv("MAIL_BACKEND", "smtp")
    monkeypatch.setenv("SMTP_HOST", "mail.example.com")
    settings = ShopSettings()
    assert isinstance(mailer_from_settings(settings), SmtpMailer)
    assert settings.smtp_host == "mail.example.com"


def test_production_refuses_the_dev_mailbox(tmp_path):
    problems = ShopSettings(env="production", data_dir=tmp_path).production_problems()
    assert "MAIL_BACKEND is 'file'; production sends e-mail over SMTP" in problems
    problems = ShopSettings(env="production", mail_backend="smtp").production_problems()
    assert not any(p.startswith("MAIL_BACKEND") for p in problems)
