"""The base of every service's composition root (`vanity_<name>/bootstrap.py`).

A service's `build_container(settings, **overrides)` builds, without FastAPI, everything its
entry points need: the database, the gRPC channel pool, the ports to other services and the use
cases. The web process (`vanity_common.app`), the gRPC servicers, the Celery worker (one
container per worker process, held by `vanity_common.tasks.bridge`) and the CLI all take their
dependencies from that one object, so a use case is wired the same way wherever it runs.

Subclass `ServiceContainer` with the service's own fields; it already holds what every
container has (settings, database, channels, clock) and knows how to close it all.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Self

from vanity_common.clock import Clock, utcnow
from vanity_common.db import Database
from vanity_common.grpc_client import ChannelPool
from vanity_common.settings import ServiceSettings

if TYPE_CHECKING:
    from vanity_common.idempotency import IdempotencyStore
    from vanity_common.outbox import OutboxRelay

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None] | None]
ReadinessCheck = Callable[[], Awaitable[None]]


def open_database(settings: ServiceSettings, *, pool_size: int | None = None) -> Database:
    """The service's database as its settings describe it (`pool_size` smaller for workers)."""
    return Database(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        echo=settings.db_echo,
    )


@dataclass(kw_only=True, eq=False)
class ServiceContainer:
    """What every service's container holds. Fields are public: entry points read them.

    The container owns what it holds: `aclose()` closes the extra resources registered with
    `on_close` (last registered, first closed), then the gRPC channels, then the database.
    """

    settings: ServiceSettings
    db: Database
    channels: ChannelPool
    clock: Clock = utcnow
    _closers: list[Closer] = field(default_factory=list, repr=False)

    @classmethod
    def core(
        cls,
        settings: ServiceSettings,
        *,
        db: Database | None = None,
        channels: ChannelPool | None = None,
        pool_size: int | None = None,
    ) -> dict[str, Any]:
        """The chassis-owned fields, built from the settings unless a test passes its own."""
        return {
            "settings": settings,
            "db": db or open_database(settings, pool_size=pool_size),
            "channels": channels or ChannelPool.from_settings(settings),
        }

    def on_close(self, closer: Closer) -> None:
        self._closers.append(closer)

    def readiness_checks(self) -> dict[str, ReadinessCheck]:
        """`/readyz` runs these; a service adds its own (a cache, a rate-limit store)."""
        return {"database": self.db.ping}

    def outbox_relays(self) -> list[OutboxRelay]:
        """Outbox relays the web process runs in the background while it serves: woken after
        every commit that published, sweeping for what a crash or a failure left. A service
        returns its own (vanity_common.outbox)."""
        return []

    @cached_property
    def idempotency(self) -> IdempotencyStore:
        """HTTP Idempotency-Key records, in this service's database (table from its migrations)."""
        from vanity_common.idempotency import IdempotencyStore

        return IdempotencyStore(self.db, clock=self.clock)

    async def aclose(self) -> None:
        try:
            while self._closers:
                closer = self._closers.pop()
                try:
                    result = closer()
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # one failing resource must not keep the others open
                    log.exception("closing %r failed", closer)
        finally:
            await self.channels.close()
            await self.db.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
