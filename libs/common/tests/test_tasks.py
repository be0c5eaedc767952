"""Celery conventions: transient errors are retried with backoff, a task that fails for good is
parked as a dead outbox row (metric + requeue), no long countdowns, Redis visibility timeout
longer than any task, and the one sender sends outbox messages as tasks."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from celery import _state as _celery_state
from prometheus_client import REGISTRY
from vanity_common import outbox
from vanity_common.db import Database
from vanity_common.settings import ServiceSettings
from vanity_common.tasks import (
    MAX_COUNTDOWN_S,
    VISIBILITY_TIMEOUT_S,
    CelerySender,
    ReliableTask,
    TransientError,
    bridge,
    make_celery,
)

sys.path.insert(0, str(Path(__file__).parent))

from outbox_harness import create_tables


class TaskSettings(ServiceSettings):
    service_name = "tasktest"


@pytest.fixture(autouse=True)
def keep_the_current_celery_app():
    """make_celery sets its app as Celery's current app: give the previous one back, so the
    services' shared tasks in later tests resolve against their own apps."""
    previous = _celery_state.get_current_app()
    yield
    previous.set_current()


@pytest.fixture
def settings(sqlite_url, tmp_path):
    settings = TaskSettings(database_url=sqlite_url, data_dir=tmp_path, log_json=False)

    async def prepare():
        db = Database(sqlite_url)
        await create_tables(db)
        await db.dispose()

    asyncio.run(prepare())
    yield settings
    for key in [k for k in bridge._resources if k.startswith("vanity.deadletter")]:
        bridge.run(bridge._resources.pop(key).dispose())


def _dead_rows(url: str):
    async def read():
        db = Database(url)
        try:
            return await outbox.list_messages(db, outbox.DEAD)
        finally:
            await db.dispose()

    return asyncio.run(read())


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_transient_failure_is_retried_then_parked_dead_with_its_arguments(settings):
    app = make_celery(settings, include=[])
    calls: list[int] = []

    @app.task(name="tasktest.flaky", base=ReliableTask, max_retries=2, retry_backoff=1)
    def flaky(order_id: str) -> None:
        calls.append(1)
        raise TransientError("payments unavailable")

    retries = _sample("vanity_task_retries_total", task="tasktest.flaky")
    dead = _sample("vanity_task_dead_total", task="tasktest.flaky")
    result = flaky.apply(args=["o-7"], task_id="task-1")
    assert result.failed() and isinstance(result.result, TransientError)
    assert len(calls) == 3  # the first run and two retries
    assert _sample("vanity_task_retries_total", task="tasktest.flaky") - retries == 2
    assert _sample("vanity_task_dead_total", task="tasktest.flaky") - dead == 1
    [row] = _dead_rows(settings.database_url)
    assert (row.id, row.topic) == ("task-1", "tasktest.flaky")
    assert '"args":["o-7"]' in row.payload and "payments unavailable" in row.last_error


def test_a_permanent_error_is_not_retried_but_parked(settings):
    app = make_celery(settings, include=[])
    calls: list[int] = []

    @app.task(name="tasktest.bug", base=ReliableTask)
    def bug() -> None:
        calls.append(1)
        raise KeyError("no such field")

    assert bug.apply(task_id="task-2").failed()
    assert calls == [1]
    [row] = _dead_rows(settings.database_url)
    assert row.id == "task-2" and "KeyError" in row.last_error


def test_requeued_dead_task_is_sent_again_by_the_relay_with_its_task_id(settings):
    app = make_celery(settings, include=[])

    @app.task(name="tasktest.bug2", base=ReliableTask)
    def bug2(x: int) -> None:
        raise ValueError("bad")

    bug2.apply(args=[5], task_id="task-3")
    sent: list[tuple] = []

    class RecordingApp:
        def send_task(self, name, args, kwargs, task_id):
            sent.append((name, args, kwargs, task_id))

    async def requeue_and_relay():
        db = Database(settings.database_url)
        try:
            assert await outbox.requeue(db, ["task-3"]) == 1
            sender = CelerySender(settings, app=RecordingApp())
            relay = outbox.OutboxRelay(db, sender.handlers("tasktest.bug2"))
            return await relay.drain()
        finally:
            await db.dispose()

    assert asyncio.run(requeue_and_relay()) == 1
    assert sent == [("tasktest.bug2", [5], {}, "task-3")]


def test_long_countdowns_and_etas_are_refused(settings):
    app = make_celery(settings, include=[])

    @app.task(name="tasktest.later", base=ReliableTask)
    def later() -> None:
        return None

    with pytest.raises(ValueError, match="due time in the database"):
        later.apply_async(countdown=MAX_COUNTDOWN_S + 1)


def test_time_limits_are_checked_against_the_visibility_timeout(settings):
    app = make_celery(settings, include=[])
    assert app.conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT_S
    # A task class is checked when it is made (a worker makes them as it starts).
    with pytest.raises(ValueError, match="soft_time_limit"):
        type("NoLimit", (ReliableTask,), {"soft_time_limit": 90, "time_limit": 60})
    with pytest.raises(ValueError, match="visibility"):
        type("TooLong", (ReliableTask,), {"soft_time_limit": 10, "time_limit": 7200})
