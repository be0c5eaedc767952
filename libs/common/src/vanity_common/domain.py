"""The base of every service's domain errors: pure (no I/O), so `domain.py` modules can share it.

A domain module raises these; its service layer maps each `reason` to a `vanity_common.errors`
problem. Rules themselves stay in the services.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken; `reason` is the stable code the service layer reports."""

    reason = "DOMAIN_ERROR"

    def __init__(self, message: str = "", **details) -> None:
        super().__init__(message)
        self.details = details


class InvalidInput(DomainError):
    """A value a rule refuses, naming the field it came from."""

    reason = "INVALID"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message, field=field_name)
        self.field = field_name
