"""Measures what the foundation promises: time from a cold start to every service ready (HTTP
readiness, gRPC health, a route through the gateway), resident memory of the whole suite at
idle, and that Ctrl-C leaves no process behind.

    .venv/bin/python -m tools.measure_suite [--offset 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tools.suite import Layout, Suite, rss_kib


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=int, default=2000, help="port offset (avoid make run)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before measuring")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vanity-measure-") as tmp:
        suite = Suite(Layout(Path(tmp), ns.offset)).start()
        try:
            ready_s = suite.wait_ready()
            time.sleep(ns.idle)  # let start-up garbage settle before reading RSS
            pids = suite.processes()
            total = sum(rss_kib(p) for p in pids)
        finally:
            leftovers = suite.stop()
        print(f"ready in {ready_s:.1f}s (migrate + seed + start, cold SQLite)")
        print(f"idle resident memory: {total / 1024:.0f} MiB over {len(pids)} processes")
        print(f"processes left after Ctrl-C: {len(leftovers)}")
        return 1 if leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
