"""A Celery beat serves /metrics on WORKER_METRICS_PORT, as the workers do: the k8s beat pods are
scraped there (deploy/k8s/components/service/beat.yaml), so `up` tells when the scheduler of the
saga recovery sweep, reconciliation and expiry is gone. A real `celery beat` process, with the
folder broker under a temporary DATA_DIR."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_beat_serves_its_metrics_on_the_worker_metrics_port(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CHECKOUT_ENV": "development",
        "CHECKOUT_DATA_DIR": str(tmp_path),
        "CHECKOUT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'checkout.db'}",
        "CHECKOUT_REDIS_URL": "",
        "CHECKOUT_CELERY_BROKER_URL": "",
        "CHECKOUT_HTTP_HOST": "127.0.0.1",
        "CHECKOUT_WORKER_METRICS_PORT": str(port),
        "CHECKOUT_LOG_JSON": "false",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # beat runs no pool
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "vanity_checkout.worker",
            "beat",
            "--loglevel",
            "WARNING",
            f"--schedule={tmp_path / 'celerybeat-schedule'}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "process_start_time_seconds" not in text:
            assert beat.poll() is None, beat.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "beat never served /metrics"
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                time.sleep(0.2)  # beat still starting
    finally:
        beat.terminate()
        try:
            beat.wait(timeout=20)
        except subprocess.TimeoutExpired:
            beat.kill()
            beat.wait()
    assert "python_info" in text
