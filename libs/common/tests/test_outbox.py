"""The unit of work and the transactional outbox, on SQLite and MariaDB: a message exists
exactly when its change committed, is delivered at least once (exactly once to an idempotent
consumer, even across a SIGKILLed relay), never to two relays at once, promptly after the
commit, and a failing one is retried with backoff and then parked as dead."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert, select, text, update
from vanity_common import outbox
from vanity_common.db import Database
from vanity_common.outbox import DEAD, PENDING, SENT, OutboxRelay, outbox_table

sys.path.insert(0, str(Path(__file__).parent))

from outbox_harness import (
    TOPIC,
    IdempotentConsumer,
    create_tables,
    effect_counts,
    effects,
    orders,
    place_order,
)

CHILD = Path(__file__).with_name("outbox_crash_child.py")


class Clock:
    def __init__(self) -> None:
        self.now = outbox.utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def db(database_url):
    database = Database(database_url, pool_size=20)
    await create_tables(database)
    yield database
    await database.dispose()


async def rows(db: Database) -> list:
    async with db.connect() as conn:
        return (await conn.execute(select(outbox_table).order_by(outbox_table.c.created_at))).all()


async def test_a_rollback_publishes_nothing(db):
    class Boom(Exception):
        pass

    async def work(uow):
        await uow.conn.execute(insert(orders).values(id="o-1"))
        await uow.publish(TOPIC, {"order": "o-1"})
        raise Boom

    with pytest.raises(Boom):
        await db.write(work)
    consumer = IdempotentConsumer(db)
    assert await OutboxRelay(db, {TOPIC: consumer}).drain() == 0
    assert await rows(db) == [] and consumer.calls == 0


async def test_delivers_and_marks_sent_and_a_redelivery_is_deduplicated(db):
    consumer = IdempotentConsumer(db)
    relay = OutboxRelay(db, {TOPIC: consumer}, service="t")
    first, second = await place_order(db, "o-1"), await place_order(db, "o-2")
    assert await relay.drain() == 2
    assert {r.id: r.status for r in await rows(db)} == {first: SENT, second: SENT}
    # At least once: the same message arriving again changes nothing for this consumer.
    async with db.connect(write=True) as conn:
        await conn.execute(update(outbox_table).values(status=PENDING, due_at=outbox.utcnow()))
    assert await relay.drain() == 2
    assert consumer.calls == 4
    assert await effect_counts(db) == {first: 1, second: 1}


async def test_a_relay_claims_only_its_own_topics(db):
    other = []

    async def collect(message):
        other.append(message.id)

    await place_order(db, "o-1")
    assert await OutboxRelay(db, {"someone.else": collect}).drain() == 0
    assert [r.status for r in await rows(db)] == [PENDING]


@pytest.mark.parametrize("kill_point", ["before_consume", "after_consume"])
async def test_a_relay_killed_between_commit_and_delivery_still_delivers_exactly_once(
    database_url, db, kill_point
):
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), database_url, order_id, kill_point],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        committed = await asyncio.to_thread(child.stdout.readline)
        assert committed.startswith("committed "), child.stderr.read()
        message_id = committed.split()[1]
        reached = await asyncio.to_thread(child.stdout.readline)
        assert reached.strip() == f"{kill_point} {message_id}"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    [row] = await rows(db)
    assert row.status == PENDING and row.claimed_by  # leased by the dead relay
    expected = {message_id: 1} if kill_point == "after_consume" else {}
    assert await effect_counts(db) == expected

    consumer = IdempotentConsumer(db)
    clock = Clock()
    relay = OutboxRelay(db, {TOPIC: consumer}, clock=clock)
    assert await relay.drain() == 0  # the lease still holds: nobody else may deliver yet
    clock.advance(36000 + 1)  # the dead relay's lease (see the child) has run out
    assert await relay.drain() == 1
    assert consumer.calls == 1
    assert await effect_counts(db) == {message_id: 1}
    [row] = await rows(db)
    assert row.status == SENT


@pytest.mark.mariadb
async def test_concurrent_relays_never_deliver_a_message_twice(mariadb_url):
    databases = [Database(mariadb_url, pool_size=4) for _ in range(4)]
    try:
        await create_tables(databases[0])
        count = 400
        await databases[0].write(lambda uow: _publish_many(uow, count))
        delivered: list[str] = []
        in_flight: set[str] = set()
        overlaps: list[str] = []

        async def handler(message):
            if message.id in in_flight:
                overlaps.append(message.id)
            in_flight.add(message.id)
            await asyncio.sleep(0)  # let the other relays run while this one "delivers"
            delivered.append(message.id)
            in_flight.discard(message.id)

        relays = [
            OutboxRelay(db, {TOPIC: handler}, batch_size=20, name=f"relay-{i}")
            for i, db in enumerate(databases)
        ]
        results = await asyncio.gather(*(r.drain() for r in relays))
        assert overlaps == []
        assert len(delivered) == count and len(set(delivered)) == count
        assert sum(results) == count
        assert sum(1 for r in results if r) >= 2, results  # the work really was shared
        assert {r.status for r in await rows(databases[0])} == {SENT}
    finally:
        for db in databases:
            await db.dispose()


async def _publish_many(uow, count: int) -> None:
    for n in range(count):
        await uow.publish(TOPIC, {"n": n})


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_failing_consumer_is_retried_with_backoff_then_parked_dead(db):
    service = f"svc-{uuid.uuid4().hex[:6]}"
    failures: list[str] = []

    async def broken(message):
        failures.append(message.id)
        raise ConnectionError("consumer is down")

    message_id = await place_order(db, "o-1")
    clock = Clock()
    relay = OutboxRelay(
        db, {TOPIC: broken}, service=service, clock=clock, max_attempts=3, backoff_base_s=10
    )
    for attempt, base in ((1, 10), (2, 20)):
        assert await relay.drain() == 0
        [row] = await rows(db)
        assert (row.status, row.attempts) == (PENDING, attempt)
        wait = (row.due_at - clock.now).total_seconds()
        assert base / 2 <= wait <= base  # exponential, with jitter
        assert "consumer is down" in row.last_error
        clock.advance(wait / 2)
        assert await relay.drain() == 0 and len(failures) == attempt  # not due yet
        clock.advance(wait / 2 + 0.001)
    assert await relay.drain() == 0
    [row] = await rows(db)
    assert (row.status, row.attempts) == (DEAD, 3) and len(failures) == 3
    assert row.last_error == "ConnectionError: consumer is down"
    assert _sample("vanity_outbox_dead_total", service=service, topic=TOPIC) == 1
    assert _sample("vanity_outbox_delivery_failures_total", service=service, topic=TOPIC) == 3
    await outbox.refresh_gauges(db, service)
    assert _sample("vanity_outbox_rows", service=service, status="dead") == 1
    clock.advance(10_000)
    assert await relay.drain() == 0 and len(failures) == 3  # parked: never retried by itself

    [dead] = await outbox.list_messages(db, DEAD)
    assert dead.id == message_id and "consumer is down" in dead.last_error
    assert await outbox.requeue(db, [message_id], now=clock.now) == 1
    consumer = IdempotentConsumer(db)
    relay.handlers[TOPIC] = consumer
    assert await relay.drain() == 1
    assert await effect_counts(db) == {message_id: 1}
    assert await outbox.count_by_status(db) == {SENT: 1}


async def test_a_handler_that_hangs_is_cut_off_and_retried(db):
    async def hangs(message):
        await asyncio.Event().wait()

    await place_order(db, "o-1")
    relay = OutboxRelay(db, {TOPIC: hangs}, handler_timeout_s=0.05, lease_s=10)
    assert await relay.drain() == 0
    [row] = await rows(db)
    assert row.status == PENDING and row.attempts == 1 and "TimeoutError" in row.last_error


async def test_the_relay_delivers_promptly_after_a_commit_without_polling(db):
    arrived = asyncio.Event()
    seen: list[str] = []

    async def handler(message):
        seen.append(message.id)
        arrived.set()

    # An hour between sweeps: only the after-commit nudge can deliver within the test.
    relay = OutboxRelay(db, {TOPIC: handler}, sweep_interval_s=3600)
    relay.start()
    try:
        await asyncio.sleep(0)
        message_id = await place_order(db, "o-1")
        await asyncio.wait_for(arrived.wait(), timeout=30)
        assert seen == [message_id]
    finally:
        await relay.stop()
    assert db._publish_listeners == []


async def test_a_future_message_waits_in_the_database_for_its_due_time(db):
    clock = Clock()
    seen: list[str] = []

    async def handler(message):
        seen.append(message.id)

    relay = OutboxRelay(db, {TOPIC: handler}, clock=clock)
    later = await db.write(
        lambda uow: uow.publish(TOPIC, {"order": "x"}, not_before=clock.now + timedelta(hours=2))
    )
    assert await relay.drain() == 0
    clock.advance(2 * 3600 + 1)
    assert await relay.drain() == 1 and seen == [later]


async def test_a_deterministic_message_id_is_published_once(db):
    async def work(uow):
        await uow.publish(TOPIC, {"order": "o-1"}, message_id="order:o-1:placed")

    await db.write(work)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await db.write(work)
    assert [r.id for r in await rows(db)] == ["order:o-1:placed"]


async def test_mark_processed_is_true_once_per_consumer(db):
    async def mark(consumer: str):
        return await db.write(lambda uow: uow.mark_processed(consumer, "m-1"))

    assert await mark("a") is True
    assert await mark("a") is False
    assert await mark("b") is True


@pytest.mark.mariadb
async def test_a_deadlocked_unit_of_work_is_rerun(mariadb_url):
    """Two transactions lock two rows in opposite order: MariaDB kills one, `write` re-runs
    it, and both commit."""
    db = Database(mariadb_url, pool_size=4)
    try:
        await create_tables(db)
        async with db.connect(write=True) as conn:
            await conn.execute(insert(orders), [{"id": "a"}, {"id": "b"}])
        both_locked_first = asyncio.Barrier(2)
        runs = {"ab": 0, "ba": 0}
        retried = []

        def work(first: str, second: str):
            async def run(uow):
                runs[first + second] += 1
                await uow.conn.execute(
                    text("SELECT id FROM orders WHERE id = :i FOR UPDATE"), {"i": first}
                )
                if runs[first + second] == 1:
                    await both_locked_first.wait()
                await uow.conn.execute(
                    text("SELECT id FROM orders WHERE id = :i FOR UPDATE"), {"i": second}
                )
                await uow.publish(TOPIC, {"order": first + second})

            return run

        await asyncio.gather(
            db.write(work("a", "b"), on_retry=lambda: retried.append(1)),
            db.write(work("b", "a"), on_retry=lambda: retried.append(1)),
        )
        assert retried == [1]
        assert sorted(runs.values()) == [1, 2]
        assert len(await rows(db)) == 2
    finally:
        await db.dispose()


def test_the_outbox_command_lists_dead_rows_and_requeues_them(sqlite_url, capsys):
    """`python -m vanity_<svc> outbox`: what admins use to see and retry dead messages."""
    import json

    from vanity_common.outbox import outbox_command

    async def prepare() -> str:
        db = Database(sqlite_url)
        try:
            await create_tables(db)
            message_id = await place_order(db, "o-1")

            async def broken(message):
                raise RuntimeError("downstream says no")

            await OutboxRelay(db, {TOPIC: broken}, max_attempts=1).drain()
            return message_id
        finally:
            await db.dispose()

    message_id = asyncio.run(prepare())
    capsys.readouterr()  # drop the relay's own log lines
    assert outbox_command(sqlite_url, []) == 1  # dead rows exist: a cron check can alert
    counts, dead = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert counts == {"counts": {"dead": 1}}
    assert dead["id"] == message_id and "downstream says no" in dead["last_error"]
    assert outbox_command(sqlite_url, ["requeue", message_id]) == 0
    assert json.loads(capsys.readouterr().out) == {"requeued": 1}
    assert outbox_command(sqlite_url, ["--status", "pending"]) == 0
    counts, pending = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert counts == {"counts": {"pending": 1}} and pending["attempts"] == 0


async def test_deliver_waits_for_a_row_the_background_loop_took(db):
    """Read-your-writes: `deliver` returns only once its rows were handled, even when the
    nudged loop of the same relay claimed them first."""
    release = asyncio.Event()
    handled: list[str] = []

    async def slow(message):
        await release.wait()
        handled.append(message.id)

    relay = OutboxRelay(db, {TOPIC: slow}, sweep_interval_s=3600)
    relay.start()
    try:
        message_id = await place_order(db, "o-1")  # nudges the loop, which takes the row
        for _ in range(1000):
            if message_id in relay._inflight:
                break
            await asyncio.sleep(0.01)
        assert message_id in relay._inflight
        waiting = asyncio.create_task(relay.deliver([message_id]))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # still being handled by the loop
        release.set()
        await asyncio.wait_for(waiting, timeout=30)
        assert handled == [message_id]
    finally:
        await relay.stop()


@pytest.mark.mariadb
async def test_a_duplicate_consumed_while_the_first_is_uncommitted_has_no_effect(mariadb_url):
    """A redelivery can overlap the first delivery (a lease ran out): the second consumer's
    dedupe insert waits for the first transaction and then sees the message as handled."""
    db = Database(mariadb_url, pool_size=4)
    try:
        await create_tables(db)
        first_holds = asyncio.Event()
        release_first = asyncio.Event()
        outcomes: list[bool] = []

        def consume(hold: bool):
            async def work(uow) -> None:
                fresh = await uow.mark_processed("dup-consumer", "m-1")
                outcomes.append(fresh)
                if fresh:
                    await uow.conn.execute(insert(effects).values(message_id="m-1", note="x"))
                if hold:
                    first_holds.set()
                    await release_first.wait()

            return work

        first = asyncio.create_task(db.write(consume(hold=True)))
        await first_holds.wait()
        second = asyncio.create_task(db.write(consume(hold=False)))
        # Until the second's dedupe insert is on the server, blocked behind the first's key lock
        # (MariaDB does not always list such a wait in innodb_lock_waits; the processlist does).
        for _ in range(500):
            async with db.connect() as conn:
                waits = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM information_schema.processlist"
                            " WHERE info LIKE 'INSERT IGNORE INTO processed_messages%'"
                        )
                    )
                ).scalar_one()
            if waits:
                break
            await asyncio.sleep(0.02)
        assert waits >= 1 and not second.done()
        release_first.set()
        await asyncio.gather(first, second)
        assert outcomes == [True, False]
        assert await effect_counts(db) == {"m-1": 1}
    finally:
        await db.dispose()
