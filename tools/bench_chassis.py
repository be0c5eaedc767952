"""`make bench-chassis`: what the service chassis costs per request. Serves one pre-serialised
route three ways (bare FastAPI; the chassis; the chassis without its access log) and loads each
with wrk (-t1 -c32, loopback), one after the other in the same run.

    .venv/bin/python -m tools.bench_chassis [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "bare FastAPI": {"BENCH_MODE": "bare"},
    "chassis": {"BENCH_MODE": "chassis", "ACCESS_LOG": "true"},
    "chassis, ACCESS_LOG=false": {"BENCH_MODE": "chassis", "ACCESS_LOG": "false"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


def run_wrk(port: int, seconds: int) -> dict[str, str]:
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/ping"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    result = {"req/s": re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)}
    for pct in ("50", "90", "99"):
        result[f"p{pct}"] = re.search(rf"\s{pct}%\s+(\S+)", out).group(1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    ns = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    print(f"{'variant':<28}{'req/s':>10}{'p50':>10}{'p90':>10}{'p99':>10}")
    for name, env in VARIANTS.items():
        port = free_port()
        server = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/uvicorn"),
                "tools.chassis_bench_app:app",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_listening(port)
            r = run_wrk(port, ns.seconds)
        finally:
            server.terminate()
            server.wait(10)
        print(f"{name:<28}{r['req/s']:>10}{r['p50']:>10}{r['p90']:>10}{r['p99']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
