"""`make load`: the shop under load, gated on latency and errors, then audited for correctness.

Starts the whole shop on shifted ports under supervisord (tools.supervised: a process that dies
is restarted; SQLite files, or with `LOAD_DB=mariadb` one fresh MariaDB database per service,
Celery and the gateway on a private Redis), runs the locust shoppers of tests/load/locustfile.py
headless through the gateway, then

1. the SLO gate: p95/p99 per endpoint group and the error rate against thresholds (`--slo
   browse=50:150`, `--max-error-rate 0`); expected refusals (out of stock, declined cards) are
   outcomes, not errors;
2. lets the in-flight sagas finish and the expiry sweep run, and audits the services' own
   records (tools.audit);
3. writes CSV, a markdown summary and a latency-over-time plot under .data/load/<timestamp>/.

Exit status 1 when the gate or the audit fails.

    .venv/bin/python -m tools.load_test [--users 60] [--time 60s] [--db sqlite|mariadb]
    .venv/bin/python -m tools.load_test --capacity        # stepped: the highest rate within SLO
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tools import audit
from tools.suite import Layout
from tools.supervised import SupervisedSuite

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "tests/load/locustfile.py"
# group -> (p95 ms, p99 ms). Browse and checkout are the bar; the others are ours.
DEFAULT_SLO: dict[str, tuple[float, float]] = {
    "browse": (50, 150),
    "cart": (100, 250),
    "orders": (100, 250),
    "account": (1000, 2500),  # argon2id password hashing on sign-in and registration
    "checkout": (300, 1000),
}
GROUP_ORDER = ["browse", "account", "cart", "checkout", "orders", "payments", "other", "journey"]


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text}")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def parse_slo(items: Iterable[str]) -> dict[str, tuple[float, float]]:
    slo = dict(DEFAULT_SLO)
    for item in items:
        group, _, limits = item.partition("=")
        p95, _, p99 = limits.partition(":")
        slo[group] = (float(p95), float(p99) if p99 else float("inf"))
    return slo


# ------------------------------------------------------------------------ the suite


# `--broken-build`: the suite's processes start with this folder first on PYTHONPATH, whose
# sitecustomize makes checkout skip the saga's stock steps (tools/broken_build).
BROKEN_BUILD = ROOT / "tools" / "broken_build"


def start_suite(
    out: Path,
    offset: int,
    database: str,
    proxied_service: str | None = None,
    *,
    broken_build: bool = False,
) -> SupervisedSuite:
    extra_env = {"PYTHONPATH": f"{BROKEN_BUILD}{os.pathsep}{ROOT}"} if broken_build else {}
    suite = SupervisedSuite(
        Layout(out / "suite", offset),
        database=database,
        proxied_service=proxied_service,
        extra_env=extra_env,
    )
    started = time.monotonic()
    print(f"starting the suite ({database}, ports +{offset}) under supervisord", flush=True)
    suite.start()
    suite.wait_ready()
    print(f"suite ready in {time.monotonic() - started:.0f}s", flush=True)
    return suite


def run_locust(
    host: str,
    out: Path,
    *,
    users: int,
    spawn_rate: float,
    duration: float,
    payments_url: str = "",
    extra: Iterable[str] = (),
    tag: str = "",
) -> Path:
    """Runs the shoppers headless; returns the per-request samples CSV."""
    samples = out / f"samples{tag}.csv"
    command = [
        str(ROOT / ".venv/bin/locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{int(duration)}s",
        "--stop-timeout",
        "30",
        "--host",
        host,
        "--csv",
        str(out / f"locust{tag}"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--samples",
        str(samples),
        "--payments-url",
        payments_url,
        *extra,
    ]
    with (out / f"locust{tag}.log").open("w") as log:
        subprocess.run(command, check=False, stdout=log, stderr=subprocess.STDOUT, timeout=7200)
    return samples


# ------------------------------------------------------------------------ analysis


@dataclass
class Sample:
    t: float
    group: str
    name: str
    ms: float
    ok: bool
    status: str
    error: str


def locust_exceptions(out: Path) -> list[str]:
    """Exceptions raised in the shoppers' own code (locust's `*_exceptions.csv`): a broken
    load test must not pass as a fast shop."""
    found = []
    for path in sorted(out.glob("locust*_exceptions.csv")):
        with path.open() as f:
            found += [f"{r['Count']} x {r['Message'][:120]}" for r in csv.DictReader(f)]
    return found


def read_samples(path: Path) -> list[Sample]:
    if not path.exists():
        return []
    with path.open() as f:
        return [
            Sample(float(r["t"]), r["group"], r["name"], float(r["ms"]), r["ok"] == "1",
                   r["status"], r["error"])
            for r in csv.DictReader(f)
        ]  # fmt: skip


@dataclass
class GroupStats:
    group: str
    count: int
    errors: int
    refused: int  # expected 4xx: out of stock, declined, ...
    rps: float
    p50: float
    p95: float
    p99: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    p50, p95, p99 = np.percentile(np.asarray(values), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def group_stats(
    samples: list[Sample], window: tuple[float, float] | None = None
) -> list[GroupStats]:
    if window:
        samples = [s for s in samples if window[0] <= s.t < window[1]]
    if not samples:
        return []
    start, end = min(s.t for s in samples), max(s.t for s in samples)
    span = max(end - start, 1.0) if window is None else max(window[1] - window[0], 1.0)
    by_group: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_group[s.group].append(s)
    stats = []
    for group in sorted(by_group, key=lambda g: [*GROUP_ORDER, g].index(g)):
        rows = by_group[group]
        p50, p95, p99 = percentiles([s.ms for s in rows])
        refused = sum(1 for s in rows if s.ok and s.status[:1] == "4")
        errors = sum(1 for s in rows if not s.ok)
        stats.append(GroupStats(group, len(rows), errors, refused, len(rows) / span, p50, p95, p99))
    http = [s for s in samples if s.group != "journey"]
    p50, p95, p99 = percentiles([s.ms for s in http])
    errors = sum(1 for s in http if not s.ok)
    refused = sum(1 for s in http if s.ok and s.status[:1] == "4")
    stats.append(
        GroupStats("ALL http", len(http), errors, refused, len(http) / span, p50, p95, p99)
    )
    return stats


@dataclass
class Gate:
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


# Fewer requests than this in a group: its p95/p99 is one or two requests, not judged.
MIN_SAMPLES = 20


def slo_gate(
    stats: list[GroupStats], slo: Mapping[str, tuple[float, float]], max_error_rate: float
) -> Gate:
    gate = Gate()
    for s in stats:
        if s.group in slo and s.count >= MIN_SAMPLES:
            p95, p99 = slo[s.group]
            if s.p95 > p95:
                gate.violations.append(f"{s.group}: p95 {s.p95:.0f} ms > {p95:.0f} ms")
            if s.p99 > p99:
                gate.violations.append(f"{s.group}: p99 {s.p99:.0f} ms > {p99:.0f} ms")
        if s.group in ("ALL http", "journey") and s.error_rate > max_error_rate:
            gate.violations.append(
                f"{s.group}: {s.errors} errors ({s.error_rate:.2%} > {max_error_rate:.2%})"
            )
    return gate


def stats_table(stats: list[GroupStats], slo: Mapping[str, tuple[float, float]]) -> str:
    lines = [
        "| group | requests | req/s | errors | refused (expected 4xx) | p50 ms | p95 ms | p99 ms "
        "| SLO p95/p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in stats:
        limit = slo.get(s.group)
        mark = ""
        if limit and s.count < MIN_SAMPLES:
            mark = f"{limit[0]:.0f}/{limit[1]:.0f} not judged (< {MIN_SAMPLES} requests)"
        elif limit:
            ok = s.p95 <= limit[0] and s.p99 <= limit[1]
            mark = f"{limit[0]:.0f}/{limit[1]:.0f} {'ok' if ok else '**FAIL**'}"
        lines.append(
            f"| {s.group} | {s.count} | {s.rps:.1f} | {s.errors} | {s.refused} | {s.p50:.0f} "
            f"| {s.p95:.0f} | {s.p99:.0f} | {mark} |"
        )
    return "\n".join(lines)


def outcomes(samples: list[Sample]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for s in samples:
        if s.group == "journey":
            counts[s.name] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def error_kinds(samples: list[Sample], limit: int = 8) -> list[tuple[str, int]]:
    counts: dict[str, int] = defaultdict(int)
    for s in samples:
        if not s.ok:
            counts[f"{s.name} {s.status} {s.error[:80]}"] += 1
    return sorted(counts.items(), key=lambda kv: -kv[1])[:limit]


def timeline(samples: list[Sample], bucket: float = 5.0) -> list[dict]:
    if not samples:
        return []
    t0 = min(s.t for s in samples)
    cells: dict[tuple[int, str], list[Sample]] = defaultdict(list)
    for s in samples:
        if s.group != "journey":
            cells[(int((s.t - t0) // bucket), s.group)].append(s)
            cells[(int((s.t - t0) // bucket), "ALL")].append(s)
    rows = []
    for (index, group), cell in sorted(cells.items()):
        p50, p95, p99 = percentiles([s.ms for s in cell])
        rows.append(
            {
                "t": index * bucket,
                "group": group,
                "rps": len(cell) / bucket,
                "errors": sum(1 for s in cell if not s.ok),
                "p50": round(p50, 1),
                "p95": round(p95, 1),
                "p99": round(p99, 1),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        path.write_text("")
        return
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict], path: Path, title: str, marks: Iterable[tuple[float, float, str]] = ()):
    """p95 per group and the request/error rates over time; `marks` shade fault windows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    groups = sorted({r["group"] for r in rows} - {"ALL"})
    for group in groups:
        cells = [r for r in rows if r["group"] == group]
        top.plot([r["t"] for r in cells], [max(r["p95"], 0.1) for r in cells], label=f"{group} p95")
    top.set_yscale("log")
    top.set_ylabel("latency, ms (log)")
    top.legend(fontsize=8, ncol=3)
    top.grid(True, which="both", alpha=0.3)
    every = [r for r in rows if r["group"] == "ALL"]
    bottom.plot([r["t"] for r in every], [r["rps"] for r in every], label="requests/s")
    bottom.plot(
        [r["t"] for r in every], [r["errors"] for r in every], label="errors / bucket", color="red"
    )
    bottom.set_xlabel("seconds since start")
    bottom.legend(fontsize=8)
    bottom.grid(True, alpha=0.3)
    for start, end, label in marks:
        for axis in (top, bottom):
            axis.axvspan(start, end, color="orange", alpha=0.2)
        top.annotate(label, (start, top.get_ylim()[1]), fontsize=7, va="top", rotation=90)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------ settle + audit


async def _in_flight(url: str) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine
    from vanity_checkout.tables import orders

    engine = create_async_engine(audit.read_only_url(url))
    try:
        async with engine.connect() as conn:
            query = select(func.count()).where(orders.c.status.in_(audit.IN_FLIGHT))
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


def settle(suite: SupervisedSuite, within: float = 150.0) -> float:
    """Waits until no order is pending or awaiting payment (abandoned 3-D Secure times out:
    void + release), then one more expiry sweep; returns the seconds waited."""
    started = time.monotonic()
    url = suite.database_urls()["checkout"]
    while time.monotonic() - started < within:
        if asyncio.run(_in_flight(url)) == 0:
            break
        time.sleep(2)
    time.sleep(8)  # > the expiry sweep's interval (tools.supervised.LOAD_SETTINGS)
    return time.monotonic() - started


def audit_suite(suite: SupervisedSuite, out: Path, label: str = "") -> audit.AuditResult:
    result = audit.run_audit(suite.database_urls())
    (out / f"audit{label}.json").write_text(json.dumps(result.as_json(), indent=2))
    return result


# ------------------------------------------------------------------------ commands


def results_dir(kind: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / ".data" / "load" / f"{stamp}-{kind}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def summarise_run(
    out: Path,
    samples: list[Sample],
    slo: Mapping[str, tuple[float, float]],
    max_error_rate: float,
    header: str,
    warmup: float = 0.0,
) -> tuple[Gate, list[GroupStats], str]:
    """The gate judges the steady state: latencies after the `warmup` seconds of ramp-up (the
    shoppers arriving and signing in at once); errors over the whole run."""
    t0 = min((s.t for s in samples), default=0.0)
    steady = [s for s in samples if s.t >= t0 + warmup]
    stats = group_stats(steady)
    gate = slo_gate(stats, slo, max_error_rate)
    whole = group_stats(samples)
    write_csv(
        out / "groups-whole-run.csv", [s.__dict__ | {"error_rate": s.error_rate} for s in whole]
    )
    ramp_errors = sum(1 for s in samples if s.t < t0 + warmup and not s.ok)
    if ramp_errors:
        gate.violations.append(f"{ramp_errors} errors during the ramp-up")
    gate.violations += [f"locust exception: {e}" for e in locust_exceptions(out)]
    if not samples:
        gate.violations.append("no requests were made")
    write_csv(out / "groups.csv", [s.__dict__ | {"error_rate": s.error_rate} for s in stats])
    rows = timeline(samples)
    write_csv(out / "timeline.csv", rows)
    plot(rows, out / "latency.png", header)
    confirmed = sum(1 for s in steady if s.group == "journey" and s.name == "order confirmed")
    span = (max(s.t for s in steady) - min(s.t for s in steady)) if steady else 1.0
    text = [
        f"# {header}",
        "",
        f"Steady state (after the first {warmup:.0f}s of ramp-up):",
        "",
        stats_table(stats, slo),
        "",
        "Whole run, ramp-up included (not gated on latency):",
        "",
        stats_table(whole, {}),
        "",
        f"Checkouts confirmed in the steady state: {confirmed} ({confirmed / max(span, 1):.2f}/s)."
        " Journeys over the whole run: "
        + ", ".join(f"{k} {v}" for k, v in outcomes(samples).items()),
        "",
        "Machine load average (1/5/15 min) at the end: "
        + " / ".join(f"{x:.1f}" for x in os.getloadavg())
        + f" on {os.cpu_count()} cores (shared with whatever else runs).",
        "",
        "SLO gate: " + ("**pass**" if gate.ok else "**FAIL** — " + "; ".join(gate.violations)),
    ]
    kinds = error_kinds(samples)
    if kinds:
        text += ["", "Errors (most frequent):", *[f"- {n} x {k}" for k, n in kinds]]
    return gate, stats, "\n".join(text)


def warmup_seconds(ns: argparse.Namespace) -> float:
    if ns.warmup == "auto":
        return ns.users / ns.spawn_rate + 10.0
    return parse_duration(ns.warmup)


def load(ns: argparse.Namespace) -> int:
    out = results_dir("load" if not ns.capacity else "capacity")
    slo = parse_slo(ns.slo)
    suite = None
    host = ns.host
    payments_url = ""
    try:
        if host is None:
            suite = start_suite(out, ns.offset, ns.db, broken_build=ns.broken_build)
            host = suite.layout.gateway
            payments_url = f"http://127.0.0.1:{suite.layout.http('payments')}"
        if ns.capacity:
            return capacity(ns, out, host, payments_url, slo, suite)
        duration = parse_duration(ns.time)
        print(f"{ns.users} shoppers for {duration:.0f}s through {host}", flush=True)
        samples = read_samples(
            run_locust(
                host, out, users=ns.users, spawn_rate=ns.spawn_rate, duration=duration,
                payments_url=payments_url,
            )
        )  # fmt: skip
        header = f"make load: {ns.users} shoppers, {duration:.0f}s, {ns.db}"
        if ns.broken_build:
            header += " - BROKEN BUILD (checkout skips reserving and committing stock)"
        gate, _stats, text = summarise_run(
            out, samples, slo, ns.max_error_rate, header, warmup=warmup_seconds(ns)
        )
        result = None
        if suite is not None:
            waited = settle(suite)
            result = audit_suite(suite, out)
            text += f"\n\nAfter {waited:.0f}s to settle, {result.render()}"
    finally:
        if suite is not None:
            suite.stop()
    (out / "summary.md").write_text(text + "\n")
    print(text)
    print(f"\nresults: {out}")
    if ns.broken_build:
        # The point of a broken build is that the audit catches it: success is a failed audit.
        caught = result is not None and not result.ok
        print("broken build: " + ("the audit failed, as it must" if caught else "NOT CAUGHT"))
        return 0 if caught else 1
    return 0 if gate.ok and (result is None or result.ok) else 1


def capacity(ns, out: Path, host: str, payments_url: str, slo, suite) -> int:
    """Steps the shopper count up; each step's throughput and gate; the capacity is the highest
    throughput of a step that held the SLO. Stops at the first step that breaks it."""
    step_time = parse_duration(ns.step_time)
    steps = [int(x) for x in ns.steps.split(",")]
    lines = [
        f"# make capacity ({ns.db}, {step_time:.0f}s per step)",
        "",
        "| shoppers | req/s | browse p95 | checkout p95 | errors | SLO |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    best: tuple[int, float] | None = None
    every: list[Sample] = []
    for users in steps:
        print(f"step: {users} shoppers for {step_time:.0f}s", flush=True)
        samples = read_samples(
            run_locust(
                host, out, users=users, spawn_rate=max(users / 5, 5), duration=step_time,
                payments_url=payments_url, tag=f"-{users}",
            )
        )  # fmt: skip
        # the spawning and the arriving shoppers' sign-ins: measure the steady part
        if samples:
            t0 = min(s.t for s in samples)
            samples = [s for s in samples if s.t >= t0 + 5 + 10]
        every += samples
        stats = {s.group: s for s in group_stats(samples)}
        gate = slo_gate(list(stats.values()), slo, ns.max_error_rate)
        total = stats.get("ALL http")
        rps = total.rps if total else 0.0
        checkout = stats.get("checkout")
        lines.append(
            f"| {users} | {rps:.1f} | {stats['browse'].p95 if 'browse' in stats else 0:.0f} "
            f"| {checkout.p95 if checkout else 0:.0f} (n={checkout.count if checkout else 0}) "
            f"| {total.errors if total else 0} "
            f"| {'ok' if gate.ok else 'FAIL: ' + '; '.join(gate.violations)} |"
        )
        print(lines[-1], flush=True)
        if not gate.ok:
            break
        best = (users, rps)
    rows = timeline(every)
    write_csv(out / "timeline.csv", rows)
    plot(rows, out / "latency.png", f"capacity steps ({ns.db})")
    found = (
        f"Capacity: {best[1]:.1f} req/s with {best[0]} shoppers held the SLO"
        if best
        else "Capacity: the first step already broke the SLO"
    )
    text = "\n".join([*lines, "", found])
    (out / "summary.md").write_text(text + "\n")
    print(text)
    print(f"\nresults: {out}")
    return 0 if best else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--time", default="60s")
    parser.add_argument("--offset", type=int, default=3000, help="port offset of the suite")
    parser.add_argument(
        "--db", choices=["sqlite", "mariadb"], default=os.environ.get("LOAD_DB") or "sqlite"
    )
    parser.add_argument("--host", help="an already running gateway (no suite, no audit)")
    parser.add_argument(
        "--slo", action="append", default=[], help="group=p95:p99 in ms, e.g. browse=50:150"
    )
    parser.add_argument("--max-error-rate", type=float, default=0.0)
    parser.add_argument(
        "--warmup",
        default="auto",
        help="ramp-up left out of the latency gate (auto: the spawning time + 10 s, while the "
        "arriving shoppers' sign-ins are hashed)",
    )
    parser.add_argument("--capacity", action="store_true", help="stepped run: find the capacity")
    parser.add_argument(
        "--broken-build",
        action="store_true",
        help="checkout skips the stock steps (tools/broken_build): exits 0 when the audit fails",
    )
    parser.add_argument("--steps", default="20,40,60,90,120,160,220")
    parser.add_argument("--step-time", default="45s")
    return load(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
