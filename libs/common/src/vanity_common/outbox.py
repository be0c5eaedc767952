"""Transactional outbox and consumer-side dedupe (the chassis' messaging tables).

A message that must follow a change is written as an `outbox` row in the same transaction as the
change (`UnitOfWork.publish`), so it exists exactly when the change does. `OutboxRelay` delivers
pending rows at least once to a handler per topic (a Celery task send, a gRPC call, a cache
invalidation) and marks them sent:

- claiming: a short write transaction selects due rows (`FOR UPDATE SKIP LOCKED` on MariaDB;
  SQLite serialises writers with `BEGIN IMMEDIATE`) and leases them by moving `due_at` forward
  and stamping `claimed_by`; a relay that dies mid-delivery loses its lease when `due_at`
  passes and another relay takes the row again (hence *at least once*: consumers dedupe by the
  message id, see `UnitOfWork.mark_processed`);
- prompt: a unit of work that published nudges the in-process relays after its commit, and a
  caller that needs read-your-writes delivers its own rows inline (`OutboxRelay.deliver`); the
  relay's loop otherwise sleeps until the next due row or the sweep interval;
- failures: the row is retried with exponential backoff and jitter (the next due time is stored
  in the row); after `max_attempts` it is parked as `dead` with its last error, counted by
  `vanity_outbox_dead_total`, logged, listed by `python -m vanity_<svc> outbox` and requeued from
  there. Nothing is dropped silently. Order between messages is not guaranteed.

Every service's metadata carries both tables (`vanity_common.db.new_metadata`); a service's
migration creates them with `create_messaging_tables()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from vanity_common.clock import utcnow
from vanity_common.db import UTCDateTime

log = logging.getLogger(__name__)

OUTBOX = "outbox"
PROCESSED = "processed_messages"
PENDING, SENT, DEAD = "pending", "sent", "dead"
MAX_ID_LENGTH = 64
MAX_ERROR_LENGTH = 2000
GAUGE_REFRESH_S = 15.0  # how often a running relay recounts rows for vanity_outbox_rows


def _outbox_columns() -> list[Column]:
    return [
        # The message id: a uuid4 hex unless the publisher gives a deterministic one.
        Column("id", String(MAX_ID_LENGTH), primary_key=True),
        Column("topic", String(120), nullable=False),
        Column("payload", Text, nullable=False),  # JSON
        Column("status", String(8), nullable=False),  # pending | sent | dead
        Column("attempts", Integer, nullable=False),
        # When the row may be (re)tried: the publish time, a backoff, or the end of a lease.
        Column("due_at", UTCDateTime, nullable=False),
        Column("claimed_by", String(80), nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("sent_at", UTCDateTime, nullable=True),
        Column("last_error", Text, nullable=True),
    ]


def _processed_columns() -> list[Column]:
    return [
        Column("consumer", String(120), primary_key=True),
        Column("message_id", String(MAX_ID_LENGTH), primary_key=True),
        Column("processed_at", UTCDateTime, nullable=False),
    ]


_INDEXES = {
    OUTBOX: ("ix_outbox_status_due_at", ["status", "due_at"]),
    PROCESSED: ("ix_processed_messages_processed_at", ["processed_at"]),
}


def add_messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Declares `outbox` and `processed_messages` on a service's metadata (what autogenerate and
    the migration round-trip test compare against)."""
    outbox = Table(OUTBOX, metadata, *_outbox_columns(), Index(*_index_args(OUTBOX)))
    processed = Table(PROCESSED, metadata, *_processed_columns(), Index(*_index_args(PROCESSED)))
    return outbox, processed


def _index_args(table: str) -> list[str]:
    name, columns = _INDEXES[table]
    return [name, *columns]


def create_messaging_tables() -> None:
    """A service migration's `upgrade()`: creates both tables."""
    from alembic import op

    op.create_table(OUTBOX, *_outbox_columns())
    op.create_table(PROCESSED, *_processed_columns())
    for table, (name, columns) in _INDEXES.items():
        op.create_index(name, table, columns)


def drop_messaging_tables() -> None:
    """A service migration's `downgrade()`."""
    from alembic import op

    op.drop_table(PROCESSED)
    op.drop_table(OUTBOX)


# The chassis' own handle on the tables, for its statements (names are what matter in SQL).
outbox_table, processed_table = add_messaging_tables(MetaData())

# Built once with bind parameters: SQLAlchemy keys (caches) them once, not on every message.
_INSERT_MESSAGE = insert(outbox_table)
_CLAIM_MESSAGES = update(outbox_table).where(
    outbox_table.c.id.in_(bindparam("claimed_ids", expanding=True)),
    outbox_table.c.status == PENDING,
)
_MARK_SENT = update(outbox_table).where(
    outbox_table.c.id.in_(bindparam("sent_ids", expanding=True)),
    outbox_table.c.claimed_by == bindparam("claim_token"),
)
_MARK_PROCESSED = (
    insert(processed_table)
    .prefix_with("IGNORE", dialect="mysql")
    .prefix_with("OR IGNORE", dialect="sqlite")
)


def new_message_id() -> str:
    return uuid.uuid4().hex


def _check_id(message_id: str) -> str:
    if not message_id or len(message_id) > MAX_ID_LENGTH:
        raise ValueError(f"a message id is 1..{MAX_ID_LENGTH} characters")
    return message_id


# ----------------------------------------------------------------------------- publish / dedupe


async def publish(
    conn: AsyncConnection,
    topic: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    message_id: str | None = None,
    not_before: datetime | None = None,
) -> str:
    """Writes one pending row in the caller's transaction; returns its message id. A row with a
    future `not_before` waits in the database (never as a long Celery ETA) until a sweep."""
    message_id = _check_id(message_id or new_message_id())
    await conn.execute(
        _INSERT_MESSAGE,
        {
            "id": message_id,
            "topic": topic,
            "payload": orjson.dumps(dict(payload)).decode(),
            "status": PENDING,
            "attempts": 0,
            "due_at": max(not_before or now, now),
            "created_at": now,
        },
    )
    return message_id


async def mark_processed(
    conn: AsyncConnection, consumer: str, message_id: str, *, now: datetime
) -> bool:
    """Records that `consumer` handled `message_id`, in the caller's transaction. False when it
    already was (the caller then skips its effect). A concurrent duplicate on MariaDB waits on
    the first one's key lock and then sees it."""
    result = await conn.execute(
        _MARK_PROCESSED,
        {"consumer": consumer, "message_id": _check_id(message_id), "processed_at": now},
    )
    return result.rowcount == 1


async def was_processed(conn: AsyncConnection, consumer: str, message_id: str) -> bool:
    found = await conn.execute(
        select(processed_table.c.message_id).where(
            processed_table.c.consumer == consumer, processed_table.c.message_id == message_id
        )
    )
    return found.first() is not None


async def once_per_message(
    db, consumer: str, message_id: str, effect: Callable[[], Awaitable[Any]]
) -> bool:
    """For a consumer whose effect is outside the database (an e-mail, a file, a call): skips a
    message already handled, runs `effect()`, then records the message. A crash between the
    effect and the record repeats the effect once more; a database effect should instead commit
    with `uow.mark_processed` in one transaction (exactly once). True when the effect ran."""
    async with db.connect() as conn:
        if await was_processed(conn, consumer, message_id):
            log.info(
                "duplicate message skipped",
                extra={
                    "event": "message_duplicate",
                    "consumer": consumer,
                    "message_id": message_id,
                },
            )
            return False
    await effect()
    await db.write(lambda uow: uow.mark_processed(consumer, message_id))
    return True


# ----------------------------------------------------------------------------------- relay


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    topic: str
    payload: dict[str, Any]
    attempts: int  # failed attempts before this one
    created_at: datetime


@dataclass(frozen=True)
class OutboxRow:
    """An admin's view of a row."""

    id: str
    topic: str
    status: str
    attempts: int
    due_at: datetime
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    payload: str


Handler = Callable[[OutboxMessage], Awaitable[None]]

DELIVERED = Counter(
    "vanity_outbox_delivered_total", "Outbox messages delivered", ["service", "topic"]
)
FAILURES = Counter(
    "vanity_outbox_delivery_failures_total",
    "Failed outbox delivery attempts (retried later or parked)",
    ["service", "topic"],
)
DEAD_TOTAL = Counter(
    "vanity_outbox_dead_total",
    "Outbox messages parked as dead after their last attempt",
    ["service", "topic"],
)
ROWS = Gauge(
    "vanity_outbox_rows",
    "Outbox rows by status, as of the relay's last sweep",
    ["service", "status"],
)
LAG = Histogram(
    "vanity_outbox_delivery_lag_seconds",
    "From publish to delivery",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: base * 2^(n-1), capped, then drawn from [half, all]."""
    delay = min(cap, base * (2 ** max(attempts - 1, 0)))
    return delay * random.uniform(0.5, 1.0)


class OutboxRelay:
    """Delivers one service's outbox rows to handlers by topic.

    Several relays (processes, or tasks in one process) may run at once: a row is leased to one
    of them at a time. A relay claims only the topics it has handlers for, so the web process
    and a worker can each relay their own topics from the same table.
    """

    def __init__(
        self,
        db,
        handlers: Mapping[str, Handler],
        *,
        service: str = "service",
        batch_size: int = 50,
        max_attempts: int = 10,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 600.0,
        lease_s: float = 60.0,
        handler_timeout_s: float = 10.0,
        sweep_interval_s: float = 30.0,
        concurrency: int = 10,
        clock: Callable[[], datetime] = utcnow,
        name: str | None = None,
    ) -> None:
        rounds = -(-batch_size // concurrency)
        if handler_timeout_s * rounds >= lease_s:
            # A batch must be settled before its lease ends, or another relay may take it too.
            raise ValueError("lease_s must exceed handler_timeout_s * batch_size / concurrency")
        self.db = db
        self.handlers = dict(handlers)
        self.service = service
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.lease = timedelta(seconds=lease_s)
        self.handler_timeout_s = handler_timeout_s
        self.sweep_interval_s = sweep_interval_s
        self.clock = clock
        self.name = name or f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._inflight: dict[str, asyncio.Future] = {}
        self._claiming = asyncio.Lock()
        self._gauges_due = 0.0

    # ---- claim, deliver, settle

    async def _claim(
        self, ids: Sequence[str] | None, limit: int
    ) -> tuple[str, list[OutboxMessage]]:
        token = f"{self.name}:{uuid.uuid4().hex[:8]}"
        now = self.clock()
        t = outbox_table

        async def work(uow) -> list[OutboxMessage]:
            query = (
                select(t.c.id, t.c.topic, t.c.payload, t.c.attempts, t.c.created_at)
                .where(t.c.status == PENDING, t.c.due_at <= now, t.c.topic.in_(list(self.handlers)))
                .order_by(t.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            if ids is not None:
                query = query.where(t.c.id.in_(ids))
            rows = (await uow.conn.execute(query)).all()
            if rows:
                await uow.conn.execute(
                    _CLAIM_MESSAGES,
                    {
                        "claimed_ids": [r.id for r in rows],
                        "due_at": now + self.lease,
                        "claimed_by": token,
                    },
                )
            return [
                OutboxMessage(r.id, r.topic, orjson.loads(r.payload), r.attempts, r.created_at)
                for r in rows
            ]

        return token, await self.db.write(work)

    async def _deliver_one(self, message: OutboxMessage) -> BaseException | None:
        async with self._limit:
            try:
                await asyncio.wait_for(
                    self.handlers[message.topic](message), timeout=self.handler_timeout_s
                )
            except Exception as exc:  # any handler failure is retried, then parked
                return exc
            return None

    async def _settle(
        self, token: str, messages: list[OutboxMessage], outcomes: list[BaseException | None]
    ) -> int:
        now = self.clock()
        t = outbox_table
        sent = [m for m, err in zip(messages, outcomes, strict=True) if err is None]
        failed = [(m, err) for m, err in zip(messages, outcomes, strict=True) if err is not None]

        async def work(uow) -> None:
            if sent:
                await uow.conn.execute(
                    _MARK_SENT,
                    {
                        "sent_ids": [m.id for m in sent],
                        "claim_token": token,
                        "status": SENT,
                        "sent_at": now,
                        "claimed_by": None,
                        "last_error": None,
                    },
                )
            for message, error in failed:
                attempts = message.attempts + 1
                dead = attempts >= self.max_attempts
                delay = backoff_seconds(attempts, self.backoff_base_s, self.backoff_max_s)
                await uow.conn.execute(
                    update(t)
                    .where(t.c.id == message.id, t.c.claimed_by == token)
                    .values(
                        status=DEAD if dead else PENDING,
                        attempts=attempts,
                        due_at=now if dead else now + timedelta(seconds=delay),
                        claimed_by=None,
                        last_error=f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH],
                    )
                )

        await self.db.write(work)
        for message in sent:
            DELIVERED.labels(self.service, message.topic).inc()
            LAG.labels(self.service).observe(max((now - message.created_at).total_seconds(), 0))
        for message, error in failed:
            FAILURES.labels(self.service, message.topic).inc()
            attempts = message.attempts + 1
            extra = {
                "event": "outbox_delivery_failed",
                "message_id": message.id,
                "topic": message.topic,
                "attempts": attempts,
                "error": repr(error)[:500],
            }
            if attempts >= self.max_attempts:
                DEAD_TOTAL.labels(self.service, message.topic).inc()
                log.error("outbox message parked as dead", extra={**extra, "event": "outbox_dead"})
            else:
                log.warning("outbox delivery failed; retrying later", extra=extra)
        return len(sent)

    async def _run_batch(self, ids: Sequence[str] | None, limit: int) -> tuple[int, int]:
        # Claim and registration are one step for this relay's tasks, so `deliver` can tell
        # which of its rows another task of this relay took (and wait for them).
        async with self._claiming:
            token, messages = await self._claim(ids, limit)
            loop = asyncio.get_running_loop()
            futures = {m.id: loop.create_future() for m in messages}
            taken = [self._inflight[i] for i in ids or () if i in self._inflight]
            self._inflight.update(futures)
        try:
            outcomes = await asyncio.gather(*(self._deliver_one(m) for m in messages))
            delivered = await self._settle(token, messages, list(outcomes)) if messages else 0
        finally:
            for message_id, future in futures.items():
                self._inflight.pop(message_id, None)
                if not future.done():
                    future.set_result(None)
        if taken:
            await asyncio.gather(*taken)
        return len(messages), delivered

    async def relay_once(self) -> int:
        """One batch of due rows; returns how many were delivered."""
        return (await self._run_batch(None, self.batch_size))[1]

    async def drain(self) -> int:
        """Batches until nothing is due (tests, the CLI, a beat task)."""
        total = 0
        while True:
            claimed, delivered = await self._run_batch(None, self.batch_size)
            total += delivered
            if claimed < self.batch_size:
                return total

    async def deliver(self, message_ids: Iterable[str]) -> int:
        """Delivers these rows now, in the caller's task (read-your-writes after a commit). Rows
        another task of this relay is delivering are awaited; rows another process holds, or
        that are not due, are left to it and to the sweep."""
        ids = list(message_ids)
        if not ids:
            return 0
        return (await self._run_batch(ids, len(ids)))[1]

    # ---- the loop

    def nudge(self) -> None:
        """A commit published rows: wake the loop now rather than at the next sweep."""
        self._wake.set()

    async def _next_due_in(self) -> float:
        t = outbox_table
        async with self.db.connect() as conn:
            due = (
                await conn.execute(
                    select(func.min(t.c.due_at)).where(
                        t.c.status == PENDING, t.c.topic.in_(list(self.handlers))
                    )
                )
            ).scalar_one_or_none()
        if due is None:
            return self.sweep_interval_s
        if isinstance(due, str):  # SQLite aggregate: no type processing
            due = datetime.fromisoformat(due).replace(tzinfo=UTC)
        elif due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        return min(max((due - self.clock()).total_seconds(), 0.0), self.sweep_interval_s)

    async def run(self) -> None:
        """Delivers until cancelled: after every nudge, at the next due row, and at least every
        `sweep_interval_s` (what a crashed process or another relay left behind)."""
        while True:
            self._wake.clear()
            try:
                await self.drain()
                if time.monotonic() >= self._gauges_due:  # a count per pass would be a scan
                    self._gauges_due = time.monotonic() + GAUGE_REFRESH_S
                    await refresh_gauges(self.db, self.service)
                wait = await self._next_due_in()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away: keep the loop, try again later
                log.exception("outbox relay pass failed", extra={"event": "outbox_relay_error"})
                wait = min(self.sweep_interval_s, 5.0)
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def start(self, *, nudged: bool = True) -> None:
        """Runs the loop as a task of the current event loop; `nudged` makes every unit of work
        of this database that published wake it after its commit."""
        if self._task is None:
            if nudged:
                self.db.add_publish_listener(self.nudge)
            self._task = asyncio.get_running_loop().create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self.db.remove_publish_listener(self.nudge)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


# ----------------------------------------------------------------------------------- admin


async def refresh_gauges(db, service: str) -> dict[str, int]:
    counts = await count_by_status(db)
    for status in (PENDING, DEAD):
        ROWS.labels(service, status).set(counts.get(status, 0))
    return counts


async def count_by_status(db) -> dict[str, int]:
    t = outbox_table
    async with db.connect() as conn:
        rows = await conn.execute(select(t.c.status, func.count()).group_by(t.c.status))
        return {status: int(n) for status, n in rows}


async def list_messages(db, status: str = DEAD, limit: int = 50) -> list[OutboxRow]:
    t = outbox_table
    async with db.connect() as conn:
        rows = await conn.execute(
            select(t).where(t.c.status == status).order_by(t.c.created_at).limit(limit)
        )
        return [
            OutboxRow(
                r.id,
                r.topic,
                r.status,
                r.attempts,
                r.due_at,
                r.created_at,
                r.sent_at,
                r.last_error,
                r.payload,
            )
            for r in rows
        ]


async def requeue(db, message_ids: Sequence[str] | None = None, *, now: datetime | None = None):
    """Puts dead rows (these, or all) back to pending with a fresh attempt budget; the last
    error stays until a delivery succeeds. Returns how many rows moved."""
    t = outbox_table
    now = now or utcnow()

    async def work(uow) -> int:
        statement = (
            update(t).where(t.c.status == DEAD).values(status=PENDING, attempts=0, due_at=now)
        )
        if message_ids is not None:
            statement = statement.where(t.c.id.in_(list(message_ids)))
        return (await uow.conn.execute(statement)).rowcount

    moved = await db.write(work)
    if moved:
        db.notify_published()
    return moved


async def purge(db, *, sent_before: datetime, processed_before: datetime, limit: int = 5000):
    """Retention: deletes sent outbox rows and dedupe records older than the given times (keep
    dedupe records longer than any redelivery can arrive)."""
    from sqlalchemy import delete

    t, p = outbox_table, processed_table

    async def work(uow) -> tuple[int, int]:
        old_sent = select(t.c.id).where(t.c.status == SENT, t.c.sent_at < sent_before)
        ids = [r.id for r in await uow.conn.execute(old_sent.limit(limit))]
        sent = (await uow.conn.execute(delete(t).where(t.c.id.in_(ids)))).rowcount if ids else 0
        done = (
            await uow.conn.execute(delete(p).where(p.c.processed_at < processed_before))
        ).rowcount
        return sent, done

    return await db.write(work)


async def park_dead(
    db,
    *,
    message_id: str,
    topic: str,
    payload: Mapping[str, Any],
    error: str,
    attempts: int,
    now: datetime | None = None,
) -> None:
    """Dead-letters something that failed outside the relay (a Celery task past its last retry):
    the row it came from turns dead, or a new dead row records it. Requeue sends it again."""
    t = outbox_table
    now = now or utcnow()
    message_id = message_id[:MAX_ID_LENGTH]

    async def work(uow) -> None:
        changed = await uow.conn.execute(
            update(t)
            .where(t.c.id == message_id)
            .values(status=DEAD, last_error=error[:MAX_ERROR_LENGTH], due_at=now, claimed_by=None)
        )
        if changed.rowcount == 0:
            await uow.conn.execute(
                insert(t).values(
                    id=message_id,
                    topic=topic,
                    payload=orjson.dumps(dict(payload)).decode(),
                    status=DEAD,
                    attempts=attempts,
                    due_at=now,
                    created_at=now,
                    last_error=error[:MAX_ERROR_LENGTH],
                )
            )

    await db.write(work)


# ------------------------------------------------------------------------------------ CLI


def outbox_command(database_url: str, argv: list[str]) -> int:
    """`python -m vanity_<svc> outbox [--status dead|pending|sent] [--limit N]`: counts by status
    and lists rows (dead by default, with their last error) as JSON lines;
    `outbox requeue (--all | ID ...)`: dead rows back to pending with a fresh attempt budget.
    Exit status 1 when dead rows exist (for a cron check)."""
    import argparse
    import json

    from vanity_common.db import Database

    parser = argparse.ArgumentParser(prog="outbox")
    parser.add_argument("action", nargs="?", default="list", choices=["list", "requeue"])
    parser.add_argument("ids", nargs="*")
    parser.add_argument("--status", default=DEAD, choices=[PENDING, SENT, DEAD])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--all", action="store_true", help="requeue every dead row")
    ns = parser.parse_args(argv)

    async def run() -> int:
        db = Database(database_url, pool_size=1)
        try:
            if ns.action == "requeue":
                if not ns.ids and not ns.all:
                    parser.error("requeue needs message ids or --all")
                moved = await requeue(db, None if ns.all else ns.ids)
                print(json.dumps({"requeued": moved}))
                return 0
            counts = await count_by_status(db)
            print(json.dumps({"counts": counts}))
            for row in await list_messages(db, ns.status, ns.limit):
                print(json.dumps(row.__dict__, default=str))
            return 1 if counts.get(DEAD) else 0
        finally:
            await db.dispose()

    return asyncio.run(run())
