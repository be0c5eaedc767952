from __future__ import annotations

from typing import ClassVar

from vanity_common.mail import MailSettings


class CheckoutSettings(MailSettings):
    """Mail (MAIL_BACKEND, MAIL_DIR, SMTP_*) comes from `vanity_common.mail.MailSettings`."""

    service_name: ClassVar[str] = "checkout"
    default_http_port: ClassVar[int] = 8005
    default_grpc_port: ClassVar[int] = 50055

    # How long inventory holds a checkout's stock; a 3-D Secure wait ends
    # `payment_wait_margin_seconds` before it (then void + release + `payment_timeout`).
    reservation_ttl_seconds: int = 900
    payment_wait_margin_seconds: int = 60
    # A saga run's lease: longer than one step's slowest remote call plus its commit. A run
    # killed mid-step is resumed by the recovery sweep once its lease has lapsed.
    saga_lease_seconds: float = 30.0
    saga_retry_base_seconds: float = 1.0
    saga_retry_max_seconds: float = 300.0
    saga_max_forward_attempts: int = 8
    saga_recovery_batch: int = 20
    # Beat: how often the recovery sweep runs (it also runs once when a worker starts).
    saga_recovery_interval_seconds: float = 10.0
    # POST /checkout answers 201 when the saga reaches a terminal or waiting state within this
    # deadline, else 202 `pending` (the saga goes on; the client polls GET /orders/{id}).
    response_deadline_seconds: float = 5.0
    # Order e-mails (development: .eml files in `<data_dir>/mail/`, the shared dev mailbox).
    mail_from: str = "Vanity <orders@vanity.shop>"


def load_settings(**overrides) -> CheckoutSettings:
    return CheckoutSettings(**overrides)
