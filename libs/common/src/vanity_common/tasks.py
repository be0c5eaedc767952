"""Celery wiring: one app per service (queue = service name), Redis broker in real deployments
and a folder-based broker (no server) by default; async use cases run on one event loop per
worker process.

Conventions every task follows (`@reliable_task`, base `ReliableTask`):
- at least once: acks late, redelivered when the worker dies, so every task is idempotent (a
  task started by the outbox relay has the message id as its task id: dedupe on
  `self.request.id` with `UnitOfWork.mark_processed`);
- transient errors (`TRANSIENT_ERRORS`, or raise `TransientError`) are retried with
  exponential backoff and jitter, at most `max_retries` times; anything else is not retried;
- soft and hard time limits on every task; Redis' `visibility_timeout` is longer than any
  task's hard limit plus its longest retry countdown (checked here), so a running or waiting
  task is never handed to a second worker;
- no long ETA/countdown: `apply_async` refuses countdowns beyond `MAX_COUNTDOWN_S`; future work
  waits in the database (an outbox row with `not_before`, or a due-time column) for a beat sweep;
- a clear end: a task that failed for good (retries exhausted, a permanent error, a soft time
  limit) is parked as a dead outbox row carrying its arguments and error (listed and requeued
  with `python -m vanity_<svc> outbox`), counted in `vanity_task_dead_total` and logged as
  `task_dead`.
Tasks are sent from async code through one `CelerySender`.

Metrics: with WORKER_METRICS_PORT > 0 a worker serves Prometheus /metrics on that port from
its main process (`serve_worker_metrics`, started by the `worker_init` signal). Tasks run in
the prefork pool's child processes (the pool is kept: only it enforces the time limits), so
the children's metrics reach the main process through prometheus_client's multiprocess mode:
PROMETHEUS_MULTIPROC_DIR must name an existing, writable folder in the worker's environment
before it starts (a per-pod emptyDir in Kubernetes). With `--pool=solo` or threads it is not
needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from celery import Celery, Task, shared_task, signals
from kombu.exceptions import OperationalError as BrokerError
from prometheus_client import Counter
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError as DatabaseOperationalError

from vanity_common.grpc_client import DependencyUnavailable
from vanity_common.settings import ServiceSettings

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_TASK_TIME_LIMIT_S = 600  # hard limit of the longest task
MAX_COUNTDOWN_S = 600  # longest retry backoff / countdown a task may use
# Redis redelivers an unacknowledged task after this: it must outlast any run and any countdown.
VISIBILITY_TIMEOUT_S = 3600
assert VISIBILITY_TIMEOUT_S > MAX_TASK_TIME_LIMIT_S + MAX_COUNTDOWN_S


class TransientError(Exception):
    """Raise it (e.g. from a port, for gRPC UNAVAILABLE) to have the task retried later."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionError,
    TimeoutError,
    DatabaseOperationalError,  # database unreachable, deadlock, lock wait
    InterfaceError,
    BrokerError,
    DependencyUnavailable,  # a port's call to another service: unreachable or too slow
)

TASK_RETRIES = Counter("vanity_task_retries_total", "Celery task retries", ["task"])
TASK_DEAD = Counter(
    "vanity_task_dead_total", "Celery tasks that failed for good (parked as dead)", ["task"]
)


def celery_config(settings: ServiceSettings) -> dict[str, Any]:
    broker = settings.broker_url
    conf: dict[str, Any] = {
        "broker_url": broker,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_acks_late": True,  # a task killed mid-way is redelivered, so tasks are idempotent
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "broker_connection_retry_on_startup": True,
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
        "worker_hijack_root_logger": False,
        # Defaults for tasks not built on ReliableTask; ReliableTask sets its own.
        "task_soft_time_limit": 60,
        "task_time_limit": 90,
        "broker_transport_options": {"visibility_timeout": VISIBILITY_TIMEOUT_S},
        # Read by the worker_init handler below (0: no /metrics).
        "vanity_worker_metrics": (settings.http_host, settings.worker_metrics_port),
    }
    if broker.startswith("filesystem://"):
        folder = settings.data_dir / "celery-broker"
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        conf["broker_transport_options"] = {
            **conf["broker_transport_options"],
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }
    return conf


def run_every(intervals: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """A beat schedule from {task name: seconds}; each entry is named after its task
    ("cart.expire_guest_carts" -> "cart-expire-guest-carts")."""
    return {
        task.replace(".", "-").replace("_", "-"): {"task": task, "schedule": seconds}
        for task, seconds in intervals.items()
    }


def make_celery(
    settings: ServiceSettings,
    include: list[str],
    beat_schedule: dict[str, dict[str, Any]] | None = None,
) -> Celery:
    service = settings.service_name
    app = Celery(f"vanity-{service}", include=include)
    app.conf.update(celery_config(settings))
    app.conf.task_default_queue = service
    app.conf.task_routes = {f"{service}.*": {"queue": service}}
    app.conf.beat_schedule = beat_schedule or {}
    # Where ReliableTask parks a task that failed for good (the service's own outbox table).
    app.conf.vanity_database_url = settings.database_url
    app.conf.vanity_service = service
    return app


class ReliableTask(Task):
    """The base of every Vanity task: see the module docstring. Override per task through the
    decorator (`@reliable_task(name, max_retries=3, soft_time_limit=5, time_limit=10)`)."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2  # seconds: 2, 4, 8, ... with full jitter
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8
    soft_time_limit = 60
    time_limit = 90
    acks_late = True
    reject_on_worker_lost = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not (cls.soft_time_limit and cls.time_limit and cls.soft_time_limit < cls.time_limit):
            raise ValueError(f"{cls.__name__}: soft_time_limit must be below time_limit")
        if cls.time_limit > MAX_TASK_TIME_LIMIT_S or cls.retry_backoff_max > MAX_COUNTDOWN_S:
            raise ValueError(
                f"{cls.__name__}: time_limit <= {MAX_TASK_TIME_LIMIT_S} s and "
                f"retry_backoff_max <= {MAX_COUNTDOWN_S} s (Redis visibility timeout)"
            )

    def apply_async(self, args=None, kwargs=None, task_id=None, *rest, **options):
        countdown = options.get("countdown") or 0
        if countdown > MAX_COUNTDOWN_S or options.get("eta") is not None:
            raise ValueError(
                "no long countdown or ETA tasks: keep the due time in the database and sweep"
            )
        return super().apply_async(args, kwargs, task_id, *rest, **options)

    def on_retry(self, exc, task_id, args, kwargs, einfo) -> None:
        TASK_RETRIES.labels(self.name).inc()
        log.warning(
            "task retried",
            extra={
                "event": "task_retry",
                "task": self.name,
                "task_id": task_id,
                "retries": self.request.retries,
                "error": repr(exc)[:500],
            },
        )

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        TASK_DEAD.labels(self.name).inc()
        error = f"{type(exc).__name__}: {exc}"
        extra = {
            "event": "task_dead",
            "task": self.name,
            "task_id": task_id,
            "retries": self.request.retries,
            "error": error[:500],
        }
        try:
            park_task(self.app, self.name, task_id, list(args or ()), dict(kwargs or {}), error)
        except Exception:  # the log line below is then the only record: it has everything
            log.exception(
                "task failed for good and could not be parked",
                extra={**extra, "args": repr(args)[:2000], "kwargs": repr(kwargs)[:2000]},
            )
            return
        log.error("task failed for good; parked as a dead outbox row", extra=extra)


def park_task(app: Celery, name: str, task_id: str, args: list, kwargs: dict, error: str):
    """Dead-letters a task in the service's outbox: requeueing it sends the same task again."""
    url = getattr(app.conf, "vanity_database_url", None)
    if not url:
        raise RuntimeError("the Celery app was not made by make_celery: nowhere to park")
    from vanity_common.db import Database
    from vanity_common.outbox import park_dead

    db = bridge.resource(f"vanity.deadletter:{url}", lambda: Database(url, pool_size=1))
    bridge.run(
        park_dead(
            db,
            message_id=task_id,
            topic=name,
            payload={"args": args, "kwargs": kwargs},
            error=error,
            attempts=1,
        )
    )


def reliable_task(name: str, **options: Any):
    """`@reliable_task("identity.send_reset")` = `shared_task(name=..., base=ReliableTask)`."""
    return shared_task(name=name, base=ReliableTask, **options)


class CelerySender:
    """The one way async code sends Celery tasks (by name: no import of the task code). The
    send is blocking I/O on the broker, so it runs in a thread."""

    def __init__(self, settings: ServiceSettings, app: Celery | None = None) -> None:
        self.app = app or make_celery(settings, include=[])

    async def send(
        self,
        task_name: str,
        args: list | tuple = (),
        kwargs: dict | None = None,
        *,
        task_id: str | None = None,
    ) -> None:
        await asyncio.to_thread(
            self.app.send_task, task_name, args=list(args), kwargs=kwargs or {}, task_id=task_id
        )

    async def deliver(self, message) -> None:
        """An outbox handler: the topic is the task name, the payload its arguments, the
        message id its task id (`UnitOfWork.enqueue_task`)."""
        payload = message.payload
        await self.send(
            message.topic,
            payload.get("args", ()),
            payload.get("kwargs") or {},
            task_id=message.id,
        )

    def handlers(self, *task_names: str) -> dict[str, Callable[[Any], Awaitable[None]]]:
        """`OutboxRelay(db, sender.handlers("identity.send_password_reset_email"))`."""
        return dict.fromkeys(task_names, self.deliver)


class AsyncBridge:
    """Runs coroutines from sync Celery tasks on one long-lived loop per process, so pooled
    database connections (bound to a loop) are reused across tasks."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._lock = threading.Lock()
        self._resources: dict[str, Any] = {}

    def run(self, coro: Awaitable[T]) -> T:
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(coro)  # type: ignore[arg-type]

    def resource(self, key: str, factory: Callable[[], Any]) -> Any:
        if key not in self._resources:
            self._resources[key] = factory()
        return self._resources[key]


bridge = AsyncBridge()


# ---------------------------------------------------------------------------------- metrics

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve_worker_metrics(host: str, port: int):
    """Serves /metrics for this worker (see the module docstring); returns the HTTP server.

    In multiprocess mode the files of processes other than this one are stale (a previous run
    of a restarted container) and are removed first; no pool child exists yet at worker_init."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    folder = os.environ.get(MULTIPROC_DIR_ENV)
    if folder:
        own = f"_{os.getpid()}.db"
        for stale in os.scandir(folder):
            if stale.name.endswith(".db") and not stale.name.endswith(own):
                os.unlink(stale.path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    server, _thread = start_http_server(port, addr=host, registry=registry)
    log.info(
        "worker metrics served",
        extra={"event": "worker_metrics", "port": port, "multiprocess": bool(folder)},
    )
    return server


@signals.worker_init.connect
def _start_worker_metrics(sender=None, **_: Any) -> None:
    host, port = getattr(sender.app.conf, "vanity_worker_metrics", None) or ("", 0)
    if not port or port <= 0:
        return
    pool = getattr(sender, "pool_cls", "")
    if not os.environ.get(MULTIPROC_DIR_ENV) and str(pool) in ("prefork", ""):
        log.warning(
            "prefork worker without PROMETHEUS_MULTIPROC_DIR: the metrics of its pool "
            "processes (where tasks run) are not served",
            extra={"event": "worker_metrics_incomplete"},
        )
    serve_worker_metrics(host, port)


@signals.beat_init.connect
def _start_beat_metrics(sender=None, **_: Any) -> None:
    """Beat serves /metrics on the same setting: its `up` and process metrics show that the
    scheduler of the sweeps (saga recovery, reconciliation, expiry) is alive. A beat embedded
    in a worker (`worker -B`) finds the port taken by that worker's endpoint and goes on."""
    host, port = getattr(sender.app.conf, "vanity_worker_metrics", None) or ("", 0)
    if not port or port <= 0:
        return
    try:
        serve_worker_metrics(host, port)
    except OSError as exc:
        log.warning("beat metrics not served: %s", exc, extra={"event": "beat_metrics_busy"})


@signals.worker_process_shutdown.connect
def _forget_pool_process(pid=None, **_: Any) -> None:
    """A pool child that exits takes its live gauges with it (multiprocess mode)."""
    if os.environ.get(MULTIPROC_DIR_ENV) and pid:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
