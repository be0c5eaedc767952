"""Dashboards and rules (deploy/monitoring) only query metrics the services really export.

The six services start in-process (SQLite, their own lifespan) and their real `/metrics` pages
are scraped; every PromQL expression of every dashboard and rule file is parsed for the metric
names it reads, and each must be exported (histogram and counter suffixes derived from the
metric's type), recorded by a rule, or one Prometheus makes itself (`up`). Label values matter
too: the `route` an SLO selects must be a route the service serves (or be listed as pending in
planned.yaml). `make monitoring-check` runs this with `promtool check rules` and
`promtool test rules`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
SERVICES = ("identity", "catalog", "inventory", "cart", "checkout", "payments")
MADE_BY_PROMETHEUS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$service": "catalog"}

# ---- PromQL: the metric names an expression reads --------------------------------------------

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*")
_CALL = re.compile(r"\s*\(")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on"}
_ROUTE = re.compile(r'route\s*(=~|=)\s*"((?:\\.|[^"\\])*)"')


def grafana_free(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names read by a PromQL expression (not functions, labels or keywords)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    return {
        m.group()
        for m in _IDENT.finditer(text)
        if m.group().lower() not in _KEYWORDS and not _CALL.match(text, m.end())
    }


def route_selectors(expr: str) -> list[tuple[str, str]]:
    """(operator, value) of every `route` matcher, string escapes undone."""
    return [(op, value.encode().decode("unicode_escape")) for op, value in _ROUTE.findall(expr)]


# ---- what the repository queries --------------------------------------------------------------


def rule_files() -> list[Path]:
    return sorted((MONITORING / "rules").glob("*.yaml"))


def rules() -> list[dict]:
    return [
        rule
        for path in rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every panel target and query variable."""
    out = []
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                inner = re.fullmatch(r"label_values\((\w+),\s*\w+\)", variable["definition"])
                assert inner, f"{path.name}: unsupported variable query {variable['definition']}"
                out.append((path.name, f"variable {variable['name']}", inner.group(1)))
    return out


def all_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every expression: rule exprs and dashboard queries."""
    queries = [(f"rule {r.get('alert') or r.get('record')}", r["expr"]) for r in rules()]
    queries += [(f"{f} / {title}", grafana_free(expr)) for f, title, expr in dashboard_queries()]
    return queries


# ---- what the services export -----------------------------------------------------------------


def names_from_exposition(text: str) -> set[str]:
    """Every series name a scrape can hold, derived from each family's type (a labelled metric
    nobody has touched yet has no samples, only its # TYPE line)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
        "gauge": ("",),
        "unknown": ("",),
    }
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def service_settings(name: str, tmp: Path):
    module = __import__(f"vanity_{name}.settings", fromlist=["x"])
    cls = next(
        getattr(module, attr)
        for attr in dir(module)
        if attr.endswith("Settings") and attr != "ServiceSettings"
    )
    return cls(
        database_url=f"sqlite+aiosqlite:///{tmp / (name + '.db')}",
        data_dir=tmp,
        grpc_enabled=False,
        log_level="WARNING",
    )


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory) -> dict[str, str]:
    """service -> the text of its real /metrics, each app started through its lifespan."""
    import asyncio

    from vanity_common.migrations import migrate

    tmp = tmp_path_factory.mktemp("monitoring")

    async def scrape_all() -> dict[str, str]:
        out = {}
        for name in SERVICES:
            settings = service_settings(name, tmp)
            await migrate(f"vanity_{name}", settings.database_url)
            app = __import__(f"vanity_{name}.app", fromlist=["x"]).create_app(settings)
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
                    # One real request, so the HTTP histogram has samples as well as its type.
                    await client.get("/api/v1/nowhere")
                    response = await client.get("/metrics")
            assert response.status_code == 200, name
            out[name] = response.text
        return out

    return asyncio.run(scrape_all())


@pytest.fixture(scope="module")
def exported(scrapes) -> set[str]:
    names: set[str] = set()
    for text in scrapes.values():
        names |= names_from_exposition(text)
    return names


def recorded() -> set[str]:
    return {r["record"] for r in rules() if "record" in r}


def planned() -> dict:
    return yaml.safe_load((MONITORING / "planned.yaml").read_text())


# ---- the parser itself ------------------------------------------------------------------------


def test_metric_names_are_read_from_promql_and_nothing_else():
    expr = (
        'histogram_quantile(0.99, sum by (service, le) (rate(a_bucket{route=~"/x/\\\\{id\\\\}",'
        'le="0.5"}[5m]))) / on(service) group_left(job) b_total offset 1h > 0.1 and c:ratio'
        " or absent(d) unless bool e"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c:ratio", "d", "e"}
    assert route_selectors('x{route=~"/a/\\\\{slug\\\\}|/b",route="/c"}') == [
        ("=~", "/a/\\{slug\\}|/b"),
        ("=", "/c"),
    ]


def test_names_from_exposition_derive_suffixes_from_the_type():
    text = (
        "# HELP h_seconds x\n# TYPE h_seconds histogram\n"
        "# HELP c_total y\n# TYPE c_total counter\n"
        "# HELP g z\n# TYPE g gauge\ng 1.0\n"
    )
    assert names_from_exposition(text) == {
        "h_seconds_bucket",
        "h_seconds_count",
        "h_seconds_sum",
        "h_seconds_created",
        "c_total",
        "c_created",
        "g",
    }


# ---- the checks -------------------------------------------------------------------------------


def test_every_service_exports_the_chassis_metrics(scrapes):
    for name, text in scrapes.items():
        assert 'vanity_http_requests_total{method="GET",route="unmatched"' in text.replace(
            f'service="{name}",', ""
        ), name
        assert "process_resident_memory_bytes" in text, name


def test_every_query_reads_only_exported_or_recorded_metrics(exported):
    known = exported | recorded() | MADE_BY_PROMETHEUS
    unknown = [
        f"{where}: {name}"
        for where, expr in all_queries()
        for name in sorted(metric_names(expr))
        if name not in known
    ]
    assert not unknown, "queries read metrics nobody exports:\n" + "\n".join(unknown)
    # The check can fail: a misspelt name is caught.
    assert "vanity_http_request_total" not in known


def test_every_slo_route_is_served_or_pending():
    from fastapi.routing import APIRoute

    pending = planned()["pending_routes"]
    problems = []
    for where, expr in all_queries():
        services = re.findall(r'service="(\w+)"', expr)
        if not services or not route_selectors(expr):
            continue
        service = services[0]
        paths = [
            r.path
            for r in __import__(f"vanity_{service}.rest", fromlist=["x"]).router.routes
            if isinstance(r, APIRoute)
        ] + list(pending.get(service, []))
        for op, value in route_selectors(expr):
            matches = [p for p in paths if (re.fullmatch(value, p) if op == "=~" else p == value)]
            if not matches:
                problems.append(f"{where}: route{op}{value!r} matches no {service} route")
    assert not problems, "\n".join(problems)


def test_a_planned_metric_once_exported_is_on_a_dashboard(exported):
    used = {name for _, expr in all_queries() for name in metric_names(expr)}
    for entry in planned()["planned"]:
        for metric in entry["metrics"]:
            family = {metric, f"{metric}_bucket", f"{metric}_count"}
            if family & exported:
                assert family & used, (
                    f"{metric} is exported now: add {entry['panels']} to {entry['dashboard']} "
                    "(deploy/monitoring/dashboards.py) and its alerts, then drop it from "
                    "planned.yaml"
                )


def test_dashboards_use_the_datasource_variable_and_a_recent_schema():
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        assert board["schemaVersion"] >= 39, path.name
        assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"], path.name
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", (path.name, panel)
                assert panel["targets"], (path.name, panel["title"])


def test_generated_files_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(MONITORING / "build.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None and os.environ.get("CI") != "true",
    reason="promtool is not installed (Debian: apt-get install prometheus)",
)


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool parses each dashboard query as if it were a recording rule."""
    exprs = [grafana_free(expr) for _, _, expr in dashboard_queries()]
    doc = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    proc = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with contextlib.suppress(Exception):
        path.unlink()


def test_every_vanity_metric_is_on_a_dashboard_or_in_a_rule(scrapes):
    """What the services export is looked at: a new counter (the saga's, payments') fails this
    until a panel or an alert reads it, or planned.yaml says why it cannot be used yet."""
    used = {name for _, expr in all_queries() for name in metric_names(expr)}
    families: dict[str, set[str]] = {}
    for text in scrapes.values():
        for family in text_string_to_metric_families(text):
            # `x_created` (a counter's creation time) comes as a gauge family of its own
            if family.name.startswith("vanity_") and not family.name.endswith("_created"):
                families[family.name] = names_from_exposition(
                    f"# TYPE {family.name} {family.type}\n"
                )
    unused = sorted(name for name, series in families.items() if not series & used)
    assert "vanity_checkout_sagas_ended" in families, "the scrape holds the saga's metrics"
    assert not unused, "exported, but no dashboard or rule reads them:\n" + "\n".join(unused)


def served_routes(service: str) -> list[str]:
    from fastapi.routing import APIRoute

    router = __import__(f"vanity_{service}.rest", fromlist=["x"]).router
    return [r.path for r in router.routes if isinstance(r, APIRoute)]


def test_a_pending_route_the_service_serves_is_no_longer_pending():
    stale = [
        f"{service}: {route}"
        for service, routes in (planned()["pending_routes"] or {}).items()
        for route in routes
        if route in served_routes(service)
    ]
    assert not stale, "served now: remove from planned.yaml pending_routes:\n" + "\n".join(stale)
    assert "/api/v1/checkout" in served_routes("checkout")  # the check reads real routes


def test_every_planned_entry_says_why_it_waits():
    for entry in planned()["planned"]:
        assert entry.get("why"), entry
        assert entry["metrics"] and entry["panels"], entry
