"""What every admin write shares: one unit of work with its audit row and the cache
invalidation in the outbox, plus the admin reads of the audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError
from vanity_common.auth import Principal
from vanity_common.clock import Clock, utcnow
from vanity_common.context import current_request_id
from vanity_common.db import Database
from vanity_common.errors import Conflict, FieldError, InvalidArgument
from vanity_common.outbox import OutboxMessage, OutboxRelay

from vanity_catalog import repository as repo
from vanity_catalog import views
from vanity_catalog.cache import NullCache, ReadCache
from vanity_catalog.domain import null_problems

T = TypeVar("T")
CACHE_INVALIDATION = "catalog.cache_invalidation"  # outbox topic, delivered in-process


def _json_safe(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=str))


def slug_taken(slug: str) -> Conflict:
    return Conflict(
        f"Slug '{slug}' is already used.",
        reason="SLUG_TAKEN",
        errors=[FieldError("slug", "already used")],
    )


def reject_nulls(fields: dict[str, Any]) -> None:
    problems = null_problems(fields)
    if problems:
        raise InvalidArgument(
            "Fields cannot be null: " + ", ".join(p.field for p in problems), errors=problems
        )


class AdminWriter:
    def __init__(
        self, db: Database, cache: ReadCache | None = None, *, clock: Clock = utcnow
    ) -> None:
        self.db = db
        self.cache = cache or NullCache()
        self.clock = clock
        self.outbox = OutboxRelay(
            db, {CACHE_INVALIDATION: self._invalidate_cache}, service="catalog"
        )

    async def write(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """`work(conn)` in one unit of work that also writes a cache invalidation to the outbox:
        the invalidation exists exactly when the change does, runs right after the commit
        (read-your-writes for the admin), and a failed or interrupted one is retried by the
        relay (backoff, then parked as dead) instead of leaving the cache stale."""

        async def unit(uow) -> tuple[T, str]:
            result = await work(uow.conn)
            return result, await uow.publish(CACHE_INVALIDATION, {})

        try:
            result, message_id = await self.db.write(unit)
        except IntegrityError as exc:  # a concurrent writer won a unique slug/SKU
            text = str(exc.orig).lower()
            field = "sku" if "sku" in text else "slug"
            raise Conflict(
                f"The {field} is already used.",
                reason=f"{field.upper()}_TAKEN",
                errors=[FieldError(field, "already used")],
            ) from exc
        await self.outbox.deliver([message_id])
        return result

    async def _invalidate_cache(self, message: OutboxMessage) -> None:
        await self.cache.invalidate()  # raises when the cache is unreachable: retried later

    async def audit(
        self, conn, actor: Principal, action: str, entity: str, entity_id, changes: dict
    ) -> None:
        await repo.write_audit(
            conn,
            {
                "at": self.clock(),
                "actor": actor.user_id,
                "action": action,
                "entity": entity,
                "entity_id": str(entity_id),
                "changes": _json_safe(changes),
                "request_id": current_request_id(),
            },
        )

    @staticmethod
    async def ensure_slug_free(conn, table, slug: str, except_id: int | None = None) -> None:
        if await repo.slug_taken(conn, table, slug, except_id=except_id):
            raise slug_taken(slug)

    async def audit_log(
        self, entity: str | None, entity_id: str | None, limit: int, before: int | None
    ) -> dict[str, Any]:
        async with self.db.connect() as conn:
            rows = await repo.audit_entries(conn, entity, entity_id, limit, before)
        return {
            "items": [views.audit(r) for r in rows],
            "next_before": rows[-1].id if len(rows) == limit else None,
        }
