"""`make run`: prepare and start the whole shop on one machine.

Applies every service's migrations and demo data (SQLite files under .data/ unless
*_DATABASE_URL points at MySQL), makes sure identity's development signing keys exist, renders
the gateway's Kong config with their public keys, then hands over to honcho, which runs the six
services, the Kong stand-in and a Celery worker with beat. Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tools.suite import PYTHON, ROOT, SERVICES, Layout, prepare, procfile


def main() -> int:
    os.chdir(ROOT)
    os.environ["VANITY_RUN_STARTED"] = str(time.time())
    os.environ.setdefault("LOG_JSON", "false")  # readable in a terminal; JSON in deployments
    layout = Layout(Path(os.environ.get("DATA_DIR", ROOT / ".data")).resolve())
    print("Vanity: migrating, loading demo data, preparing keys and the gateway config", flush=True)
    prepare(layout)
    path = procfile(layout)
    with path.open("a") as f:  # prints the URLs once everything answers
        f.write(f"ready: {PYTHON} -m tools.local_ready\n")
    print(f"Starting {len(SERVICES)} services, the gateway and a Celery worker (Ctrl-C stops all)")
    honcho = str(ROOT / ".venv" / "bin" / "honcho")
    os.execv(honcho, [honcho, "start", "-f", str(path), "-d", str(ROOT)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
