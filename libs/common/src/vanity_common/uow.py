"""The unit of work: the one way a service opens a write transaction.

    async def work(uow: UnitOfWork) -> OrderView:
        await repo.insert_order(uow.conn, ...)                      # Core, on uow.conn
        await uow.publish("checkout.order_placed", {"order_id": order_id})
        return view

    view = await db.write(work)     # a fresh transaction, re-run whole on deadlock/lock wait

- `db.write(work)` opens a Core `AsyncConnection` transaction (`BEGIN IMMEDIATE` on SQLite, so
  writers queue instead of failing half-way), runs `work(uow)`, commits, and re-runs the whole
  of `work` on a MariaDB deadlock or lock-wait timeout (tenacity, jittered). `work` must
  therefore do nothing but database I/O: no network calls, no side effects that a re-run would
  repeat. `async with db.unit_of_work() as uow:` is the same transaction without the retry.
- `uow.publish(topic, payload)` writes an outbox row in that transaction (see `outbox.py`):
  the message exists exactly when the change does; after the commit the in-process relays
  are nudged.
- `uow.mark_processed(consumer, message_id)` records a consumed message in the same
  transaction as the consumer's effect: False means it was already handled (skip the effect).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from vanity_common import outbox
from vanity_common.db import is_retryable_db_error

if TYPE_CHECKING:
    from vanity_common.db import Database

T = TypeVar("T")
Clock = Callable[[], datetime]


class UnitOfWork:
    """One open write transaction: `conn` for statements, `publish` for messages."""

    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now  # one timestamp for every row this unit writes
        self.published: list[str] = []

    async def publish(
        self,
        topic: str,
        payload: Mapping[str, Any],
        *,
        message_id: str | None = None,
        not_before: datetime | None = None,
    ) -> str:
        """An outbox row in this transaction; returns the message id (consumers dedupe on it).
        Give a deterministic `message_id` (e.g. `order:42:confirmed`) when a re-run use case
        must not publish twice: a second publish with the same id fails the transaction."""
        message_id = await outbox.publish(
            self.conn,
            topic,
            payload,
            now=self.now,
            message_id=message_id,
            not_before=not_before,
        )
        self.published.append(message_id)
        return message_id

    async def enqueue_task(self, task_name: str, *args: Any, **kwargs: Any) -> str:
        """A Celery task sent by the relay after the commit (the outbox topic is the task name;
        the task id is the message id). JSON arguments only."""
        return await self.publish(task_name, {"args": list(args), "kwargs": kwargs})

    async def mark_processed(self, consumer: str, message_id: str) -> bool:
        return await outbox.mark_processed(self.conn, consumer, message_id, now=self.now)

    async def was_processed(self, consumer: str, message_id: str) -> bool:
        return await outbox.was_processed(self.conn, consumer, message_id)


@asynccontextmanager
async def unit_of_work(db: Database, clock: Clock = outbox.utcnow) -> AsyncIterator[UnitOfWork]:
    """One attempt: commits on success, rolls back on any exception, then nudges the relays."""
    async with db.connect(write=True) as conn:
        uow = UnitOfWork(conn, clock())
        yield uow
    if uow.published:
        db.notify_published()


async def run_in_unit_of_work(
    db: Database,
    work: Callable[[UnitOfWork], Awaitable[T]],
    *,
    attempts: int = 8,
    on_retry: Callable[[], None] | None = None,
    clock: Clock = outbox.utcnow,
) -> T:
    """`work` in a fresh unit of work, re-run from the start on deadlock or lock-wait timeout."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_retryable_db_error),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.005, max=0.2),
        reraise=True,
    ):
        with attempt:
            if attempt.retry_state.attempt_number > 1 and on_retry is not None:
                on_retry()
            async with unit_of_work(db, clock) as uow:
                return await work(uow)
    raise AssertionError("unreachable")
