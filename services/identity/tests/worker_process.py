"""A real Celery worker of identity in its own process, on a test's settings (database, data
folder, keys), for the tests of what only a worker does (the reset e-mail, worker metrics)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def start_worker(settings, pool: list[str], **env: str) -> subprocess.Popen:
    """`pool`: Celery's pool options (["solo"], ["prefork", "--concurrency", "1"]); `env`: more
    variables (IDENTITY_... settings)."""
    environment = {
        **os.environ,
        "IDENTITY_ENV": "test",
        "IDENTITY_DATABASE_URL": settings.database_url,
        "IDENTITY_DATA_DIR": str(settings.data_dir),
        "IDENTITY_KEYS_DIR": str(settings.keys_dir),
        "IDENTITY_LOG_JSON": "false",
        **env,
    }
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "vanity_identity.worker", "worker"),
            *("-Q", "identity", "--pool", *pool),
            *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            *("--loglevel", "WARNING"),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM (Celery's warm shutdown), then SIGKILL if it does not end within 30 s."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
