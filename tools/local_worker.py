"""One Celery app for every service's queue, for `make run` on one machine. In Kubernetes each
service runs its own worker (`celery -A vanity_<name>.worker worker -Q <name>`)."""

from __future__ import annotations

import importlib
import importlib.util

from celery import Celery
from vanity_common.logging import configure_logging
from vanity_common.settings import ServiceSettings
from vanity_common.tasks import celery_config

SERVICES = ["identity", "catalog", "inventory", "cart", "checkout", "payments"]


class LocalWorkerSettings(ServiceSettings):
    service_name = "worker"


settings = LocalWorkerSettings()
configure_logging("worker", settings.log_level, settings.log_json)
app = Celery("vanity-local")
app.conf.update(celery_config(settings))

includes: list[str] = []
schedule: dict = {}
routes: dict = {}
for service in SERVICES:
    if importlib.util.find_spec(f"vanity_{service}.tasks") is not None:
        includes.append(f"vanity_{service}.tasks")
    if importlib.util.find_spec(f"vanity_{service}.worker") is not None:
        schedule.update(
            getattr(importlib.import_module(f"vanity_{service}.worker"), "BEAT_SCHEDULE", {})
        )
    routes[f"{service}.*"] = {"queue": service}

app.conf.include = includes
app.conf.beat_schedule = schedule
app.conf.task_routes = routes
