"""Celery wiring: one app per service (queue = service name), Redis broker in real deployments
and a folder-based broker (no server) by default; async use cases run on one event loop per
worker process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from celery import Celery

from vanity_common.settings import ServiceSettings

T = TypeVar("T")


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
    }
    if broker.startswith("filesystem://"):
        folder = settings.data_dir / "celery-broker"
        for sub in ("queue", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        conf["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        }
    return conf


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
    return app


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
