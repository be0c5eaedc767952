"""A clock tests move instead of sleeping (use cases take a `vanity_common.clock.Clock`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """Injected `now()`: `clock()` answers `clock.now`, which only `advance` moves."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **delta: float) -> None:
        """`advance(61)`, `advance(days=31)`: any `timedelta` arguments."""
        self.now += timedelta(seconds=seconds, **delta)
