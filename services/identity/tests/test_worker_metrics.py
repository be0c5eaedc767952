"""A Celery worker serves /metrics (WORKER_METRICS_PORT): the task metrics counted in its prefork
pool processes, where tasks run, reach the main process's endpoint (multiprocess mode)."""

from __future__ import annotations

import asyncio
import socket
import subprocess

import httpx
from sqlalchemy import select
from vanity_common.db import Database
from vanity_common.migrations import migrate
from vanity_common.outbox import outbox_table
from vanity_common.tasks import CelerySender

from .worker_process import start_worker, stop_worker

RESET_TASK = "identity.send_password_reset_email"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_prefork_worker(settings, metrics_port: int, multiproc_dir) -> subprocess.Popen:
    return start_worker(
        settings,
        ["prefork", "--concurrency", "1"],
        IDENTITY_HTTP_HOST="127.0.0.1",
        IDENTITY_WORKER_METRICS_PORT=str(metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir),
    )


async def scrape_until(url: str, series: str, worker: subprocess.Popen, timeout: float = 90.0):
    """Scrapes until `series` is exposed, failing at the deadline or if the worker died."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            try:
                response = await client.get(url)
                if series in response.text:
                    return response.text
            except httpx.TransportError:
                pass  # the worker is still starting
            assert asyncio.get_running_loop().time() < deadline, f"{series} never exposed"
            await asyncio.sleep(0.2)


async def test_a_prefork_worker_serves_the_task_metrics_of_its_pool(settings_factory, tmp_path):
    settings = settings_factory()
    await migrate("vanity_identity", settings.database_url)
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    port = free_port()
    worker = start_prefork_worker(settings, port, multiproc_dir)
    try:
        # Arguments the task does not take: a permanent error, so it is parked as dead and
        # counted, in the pool process that ran it.
        await CelerySender(settings).send(RESET_TASK, kwargs={"unexpected": 1}, task_id="m-1")
        text = await scrape_until(
            f"http://127.0.0.1:{port}/metrics",
            f'vanity_task_dead_total{{task="{RESET_TASK}"}} 1.0',
            worker,
        )
    finally:
        stop_worker(worker)
    assert 'vanity_task_retries_total{task="' not in text  # a permanent error: no retries
    db = Database(settings.database_url)
    try:
        async with db.connect() as conn:
            [parked] = (await conn.execute(select(outbox_table))).all()
    finally:
        await db.dispose()
    assert (parked.id, parked.topic, parked.status) == ("m-1", RESET_TASK, "dead")
