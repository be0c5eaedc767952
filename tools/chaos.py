"""`make chaos`: faults injected into the running shop while the shoppers buy, one at a time.

For each fault a phase of its own: the shoppers run (tests/load/locustfile.py), the fault
starts after a calm stretch, ends, the shoppers go on for the recovery; then the load stops, the
in-flight sagas finish and tools.audit must find nothing lost, double-charged or oversold.

The faults (each bounded in time):
1. `kill-checkout`: SIGKILL to the checkout process; supervisord restarts it.
2. `kill-inventory`: SIGKILL to inventory; supervisord restarts it.
3. `slow-payments`: payments frozen (SIGSTOP) for a while: its sockets accept but nothing
   answers, so every gRPC call from checkout runs past its deadline; then SIGCONT.
4. `worker-down`: the Celery worker (and beat) stopped for a while, then started.
5. `db-cut` (MariaDB): the database link of one service (cart by default) goes through a TCP
   proxy that is cut (connections reset, new ones refused) for a while, then restored.
6. `redis-restart` (MariaDB runs use a private redis-server the runner started on a free
   port; the machine's Redis is never touched): Celery's broker and the gateway's rate-limit
   store restart.

Per fault: requests, errors and their statuses during the fault, the p95 before/during, the
slowest answer (no hangs: 503s), the time until the process was ready again and until the
last error, and the audit. Results under .data/load/<timestamp>-chaos/.

    .venv/bin/python -m tools.chaos [--db mariadb|sqlite] [--faults kill-checkout,...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools import load_test
from tools.load_test import LOCUSTFILE, ROOT, Sample, percentiles, read_samples
from tools.supervised import SupervisedSuite

FAULTS_NEED_MARIADB = {"db-cut", "redis-restart"}
CALM_MEASURED = 8.0  # seconds before a fault that give its "p95 before"
ALL_FAULTS = [
    "kill-checkout",
    "kill-inventory",
    "slow-payments",
    "worker-down",
    "db-cut",
    "redis-restart",
]


@dataclass
class Window:
    fault: str
    phase_start: float
    start: float = 0.0
    end: float = 0.0
    ready_after: float = 0.0  # seconds from the fault's end until the suite answered ready


def _wait_restarted(suite: SupervisedSuite, program: str, old_pid: int, within: float = 60):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, xmlrpc.client.Fault):  # supervisor restarting it
            if suite.state(program) == "RUNNING" and suite.pid(program) != old_pid:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{program} was not restarted within {within}s")


def inject(suite: SupervisedSuite, fault: str, hold: float) -> Callable[[], None]:
    """Starts `fault`; returns what ends it (a kill ends by itself: supervisor restarts)."""
    if fault in ("kill-checkout", "kill-inventory"):
        program = fault.removeprefix("kill-")
        old = suite.kill(program)
        return lambda: _wait_restarted(suite, program, old)
    if fault == "slow-payments":
        suite.pause("payments")
        time.sleep(hold)
        return lambda: suite.resume("payments")
    if fault == "worker-down":
        suite.stop_program("worker")
        time.sleep(hold)
        return lambda: suite.start_program("worker")
    if fault == "db-cut":
        suite.db_proxy.cut()
        time.sleep(hold)
        return suite.db_proxy.restore
    if fault == "redis-restart":
        return lambda: suite.restart_program("redis")
    raise ValueError(fault)


def start_locust(host: str, out: Path, tag: str, users: int, payments_url: str):
    samples = out / f"samples-{tag}.csv"
    log = (out / f"locust-{tag}.log").open("w")
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/locust"), "-f", str(LOCUSTFILE), "--headless",
            "--users", str(users), "--spawn-rate", str(max(users / 4, 5)),
            "--run-time", "3600s", "--stop-timeout", "20", "--host", host,
            "--only-summary", "--loglevel", "WARNING", "--samples", str(samples),
            "--payments-url", payments_url,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    return process, samples, log


def stop_locust(process: subprocess.Popen, log) -> None:
    process.send_signal(signal.SIGTERM)  # locust stops its users and writes its files
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
    log.close()


def fault_report(window: Window, samples: list[Sample]) -> dict:
    http = [s for s in samples if s.group != "journey"]
    # latency: the shop's answers, not argon2id sign-ins; "before" is the calm just before
    shop = [s for s in http if s.group != "account"]
    before = [s.ms for s in shop if window.start - CALM_MEASURED <= s.t < window.start]
    during = [s for s in http if window.start <= s.t < window.end + 5]
    after = [s for s in http if s.t >= window.start]
    errors = [s for s in after if not s.ok]
    statuses = Counter(s.status or "no answer" for s in errors)
    last_error = max((s.t for s in errors), default=window.end)
    journeys = Counter(s.name for s in samples if s.group == "journey" and s.t >= window.start)
    return {
        "fault": window.fault,
        "fault_s": round(window.end - window.start, 1),
        "requests_during": len(during),
        "errors": len(errors),
        "error_statuses": dict(statuses),
        "p95_before_ms": round(percentiles(before)[1]),
        "p95_during_ms": round(percentiles([s.ms for s in during if s.group != "account"])[1]),
        "slowest_ms": round(max((s.ms for s in during), default=0)),
        "ready_after_s": round(window.ready_after, 1),
        "errors_until_s": round(max(last_error - window.end, 0.0), 1),
        "journeys_after_start": dict(journeys),
        "t_start": window.start,
        "t_end": window.end,
    }


def run_phase(suite, out, fault, ns) -> tuple[dict, bool]:
    host = suite.layout.gateway
    payments_url = f"http://127.0.0.1:{suite.layout.http('payments')}"
    process, samples_path, log = start_locust(host, out, fault, ns.users, payments_url)
    window = Window(fault, phase_start=time.time())
    try:
        time.sleep(ns.calm)
        window.start = time.time()
        print(f"  {fault}: injecting", flush=True)
        end = inject(suite, fault, ns.hold)
        end()
        window.end = time.time()
        suite.wait_ready(within=120)
        window.ready_after = time.time() - window.end
        print(f"  {fault}: ended, ready after {window.ready_after:.1f}s", flush=True)
        time.sleep(ns.recovery)
    finally:
        stop_locust(process, log)
    waited = load_test.settle(suite)
    result = load_test.audit_suite(suite, out, label=f"-{fault}")
    report = fault_report(window, read_samples(samples_path))
    report["settled_s"] = round(waited)
    report["audit"] = "pass" if result.ok else f"FAIL ({len(result.findings)})"
    report["audit_counts"] = result.counts
    print(f"  {fault}: {report}", flush=True)
    if not result.ok:
        print(result.render(), flush=True)
    return report, result.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", choices=["sqlite", "mariadb"], default=os.environ.get("LOAD_DB") or "mariadb"
    )
    parser.add_argument("--faults", default=",".join(ALL_FAULTS))
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--calm", type=float, default=15.0, help="seconds of load before a fault")
    parser.add_argument("--hold", type=float, default=15.0, help="seconds a lasting fault lasts")
    parser.add_argument("--recovery", type=float, default=20.0, help="seconds of load after it")
    parser.add_argument("--offset", type=int, default=3000)
    parser.add_argument("--db-fault-service", default="cart")
    ns = parser.parse_args(argv)
    faults = [f for f in ns.faults.split(",") if f]
    skipped = [f for f in faults if ns.db == "sqlite" and f in FAULTS_NEED_MARIADB]
    faults = [f for f in faults if f not in skipped]
    out = load_test.results_dir("chaos")
    suite = load_test.start_suite(
        out, ns.offset, ns.db, proxied_service=ns.db_fault_service if ns.db == "mariadb" else None
    )
    reports, all_ok = [], True
    all_samples: list[Sample] = []
    try:
        for fault in faults:
            report, ok = run_phase(suite, out, fault, ns)
            reports.append(report)
            all_ok &= ok
            samples = read_samples(out / f"samples-{fault}.csv")
            all_samples += samples
    finally:
        suite.stop()
    t0 = min((s.t for s in all_samples), default=0.0)
    rows = load_test.timeline(all_samples)
    load_test.write_csv(out / "timeline.csv", rows)
    load_test.write_csv(
        out / "faults.csv",
        [{k: v for k, v in r.items() if k not in ("audit_counts",)} for r in reports],
    )
    marks = [(r["t_start"] - t0, r["t_end"] - t0, r["fault"]) for r in reports]
    load_test.plot(rows, out / "latency.png", f"make chaos ({ns.db})", marks)
    text = [
        f"# make chaos ({ns.db}, {ns.users} shoppers; fault held {ns.hold:.0f}s)",
        "",
        "| fault | lasted s | requests during | errors | statuses | p95 before | p95 during "
        "| slowest ms | ready after s | errors until s | audit |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in reports:
        text.append(
            f"| {r['fault']} | {r['fault_s']} | {r['requests_during']} | {r['errors']} "
            f"| {r['error_statuses'] or '-'} | {r['p95_before_ms']} | {r['p95_during_ms']} "
            f"| {r['slowest_ms']} | {r['ready_after_s']} | {r['errors_until_s']} | {r['audit']} |"
        )
    if skipped:
        text += ["", f"Skipped on SQLite (they need LOAD_DB=mariadb): {', '.join(skipped)}"]
    (out / "summary.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    print(f"\nresults: {out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
