"""`make load`: start the whole shop on shifted ports, run the locust shoppers headless through
the gateway, print throughput and p50/p95/p99 per endpoint, stop everything.

    .venv/bin/python -m tools.load_test [--users 60] [--spawn-rate 10] [--time 60s]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.suite import Layout, Suite

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--time", default="60s")
    parser.add_argument("--offset", type=int, default=3000, help="port offset of the suite")
    parser.add_argument("--host", help="an already running gateway instead of a fresh suite")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vanity-load-") as tmp:
        suite = None
        host = ns.host
        if host is None:
            suite = Suite(Layout(Path(tmp), ns.offset)).start()
            print(f"suite ready in {suite.wait_ready():.1f}s", flush=True)
            host = suite.layout.gateway
        prefix = Path(tmp) / "locust"
        try:
            subprocess.run(
                [
                    str(ROOT / ".venv/bin/locust"),
                    "-f",
                    str(ROOT / "tests/load/locustfile.py"),
                    "--headless",
                    "--users",
                    str(ns.users),
                    "--spawn-rate",
                    str(ns.spawn_rate),
                    "--run-time",
                    ns.time,
                    "--host",
                    host,
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                check=False,
                timeout=3600,
            )
        finally:
            if suite is not None:
                suite.stop()
        stats = Path(f"{prefix}_stats.csv")
        if not stats.exists():
            print("locust wrote no statistics", file=sys.stderr)
            return 1
        print(f"\n{ns.users} shoppers, {ns.time}, through the gateway at {host}")
        print(
            f"{'endpoint':<28}{'requests':>9}{'fails':>7}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}"
        )
        failures = 0
        with stats.open() as f:
            for row in csv.DictReader(f):
                name = row["Name"] if row["Type"] else "ALL"
                failures += int(row["Failure Count"]) if name == "Aggregated" else 0
                print(
                    f"{name:<28}{row['Request Count']:>9}{row['Failure Count']:>7}"
                    f"{float(row['Requests/s']):>8.1f}{row['50%']:>7}{row['95%']:>7}{row['99%']:>7}"
                )
        print("(latencies in ms)")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
