"""What every identity use case shares: its dependencies, the clock, the name and password
checks, and the errors they raise."""

from __future__ import annotations

from datetime import datetime

from vanity_common.clock import Clock
from vanity_common.db import Database
from vanity_common.errors import FieldError, InvalidArgument, TooManyRequests
from vanity_common.mail import Mailer
from vanity_common.types import control_characters

from vanity_identity.domain import password_problems
from vanity_identity.passwords import Passwords
from vanity_identity.settings import IdentitySettings
from vanity_identity.throttle import Throttle
from vanity_identity.tokens import AccessTokenIssuer


def password_error(problems: list[str], field: str = "password") -> InvalidArgument:
    return InvalidArgument(
        f"The {field.replace('_', ' ')} {problems[0]}.",
        reason="WEAK_PASSWORD",
        errors=[FieldError(field, p) for p in problems],
    )


def too_many(retry_after: int, what: str = "attempts") -> TooManyRequests:
    return TooManyRequests(
        f"Too many {what}. Try again in {retry_after} seconds.",
        reason="TOO_MANY_ATTEMPTS",
        headers={"Retry-After": str(retry_after)},
    )


class IdentityParts:
    """The dependencies the feature classes share (one object: `IdentityService`)."""

    db: Database
    settings: IdentitySettings
    issuer: AccessTokenIssuer
    passwords: Passwords
    throttle: Throttle
    mailer: Mailer
    clock: Clock

    def now(self) -> datetime:
        return self.clock()

    def _check_password(self, password: str, email: str, name: str, field: str) -> None:
        problems = password_problems(
            password, min_length=self.settings.password_min_length, email=email, name=name
        )
        if problems:
            raise password_error(problems, field)

    @staticmethod
    def _clean_name(name: str) -> str:
        cleaned = " ".join((name or "").split())
        if control_characters(cleaned):
            raise InvalidArgument(
                "The name must not contain control characters.",
                errors=[FieldError("name", "must not contain control characters")],
            )
        if not cleaned or len(cleaned) > 200:
            raise InvalidArgument(
                "A name of 1 to 200 characters is required.",
                errors=[FieldError("name", "1 to 200 characters")],
            )
        return cleaned
