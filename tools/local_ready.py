"""Part of `make run`: waits until every service (HTTP readiness and gRPC health) and the gateway
answer, prints the URLs and the start-up time, then stays alive (honcho stops all on any exit)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from tools.suite import SERVICES, Layout, wait_ready


def main() -> None:
    layout = Layout(Path(os.environ["DATA_DIR"]))
    status = asyncio.run(wait_ready(layout, within=120))
    if not all(status.values()):
        failing = ", ".join(k for k, ok in status.items() if not ok)
        print(f"Vanity is NOT ready after 120 s: {failing}", flush=True)
    else:
        elapsed = time.time() - float(os.environ.get("VANITY_RUN_STARTED", time.time()))
        rows = "\n".join(
            f"  {name:<10} http://127.0.0.1:{layout.http(name)}   gRPC 127.0.0.1:{layout.grpc(name)}"
            for name in SERVICES
        )
        print(
            f"\nVanity is ready ({elapsed:.1f}s from `make run`)\n"
            f"  gateway    {layout.gateway}   <- clients use this, e.g. "
            f"{layout.gateway}/api/v1/products\n"
            f"  storefront {layout.gateway}/   admin console {layout.gateway}/admin\n{rows}\n"
            "  every service: /healthz /readyz /metrics /docs; gRPC health SERVING\n"
            "  Ctrl-C stops everything\n",
            flush=True,
        )
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
