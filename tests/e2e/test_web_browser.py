"""The web app in a real browser: web/e2e/browser.mjs (playwright-core driving Debian's Chromium)
against the running suite through its gateway. One browser run per session; one test per flow.

Screenshots (phone 390x844, desktop 1366x900) and the run's measurements land in
.data/screenshots/ (git-ignored): report.json holds the flows, axe results and timings.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tools.suite import PYTHON, ROOT

pytestmark = pytest.mark.e2e

WEB = ROOT / "web"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / ".data" / "screenshots"
FLOWS = [
    "home",
    "listing-time-to-interactive",
    "browse-filter-product-shade",
    "register-sign-in-address-book",
    "customer-refused-admin",
    "admin-console",
    "guest-bag-merged-at-sign-in",
    "guest-bag-survives-reload",
    "password-reset-pages",
    "friendly-errors-with-retry",
    "checkout-success-confirmation-history",
    "checkout-declined-keeps-the-bag",
    "checkout-3ds-challenge-failed-keeps-the-bag",
    "checkout-3ds-challenge-completed",
    "double-click-pay-creates-one-order",
    "admin-refund-and-stock-adjustment",
    "admin-product-create-edit-archive",
    "admin-brands-categories",
]
INITIAL_JS_BUDGET_GZIP = 150 * 1024


def _missing() -> list[str]:
    missing = []
    if not (WEB / "dist" / "index.html").is_file():
        missing.append("web/dist (make web)")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        missing.append("web/node_modules (make web)")
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (make chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    return missing


def _require_prerequisites() -> None:
    missing = _missing()
    if not missing:
        return
    message = "browser tests need " + ", ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI installs them (.ci/run, make test): missing is a failure there
    pytest.skip(message)


def _wait_for_web(base_url: str, within: float = 60.0) -> None:
    """The static upstream starts beside the services; the suite's readiness does not poll it."""
    deadline = time.monotonic() + within
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base_url}/", timeout=2)
            if answer.status_code == 200 and '<div id="app">' in answer.text:
                return
            last = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise AssertionError(f"the web app is not served at {base_url}/ ({last})")


def _create_admin(suite) -> tuple[str, str]:
    email = f"admin-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    done = subprocess.run(
        [PYTHON, "-m", "vanity_identity", "create-admin", "--email", email, "--password-stdin"],
        input=password + "\n",
        env={**os.environ, **suite.layout.env()},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return email, password


@pytest.fixture(scope="module")
def browser_run(suite) -> dict:
    _require_prerequisites()
    base_url = suite.layout.gateway
    _wait_for_web(base_url)
    email, password = _create_admin(suite)
    done = subprocess.run(
        ["node", "e2e/browser.mjs", "--base-url", base_url, "--screenshots", str(SCREENSHOTS)],
        cwd=WEB,
        env={**os.environ, "ADMIN_EMAIL": email, "ADMIN_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=420,
    )
    flows: dict[str, dict] = {}
    summary: dict = {}
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "summary" in record:
            summary = record["summary"]
        else:
            flows[record["flow"]] = record
    assert summary, f"the browser run ended early (rc {done.returncode}): {done.stderr[-3000:]}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "report.json").write_text(json.dumps({"flows": flows, **summary}, indent=2))
    print(json.dumps(summary["measurements"], indent=2), file=sys.stderr)
    return {"flows": flows, **summary}


@pytest.mark.parametrize("flow", FLOWS)
def test_browser_flow(browser_run, flow):
    result = browser_run["flows"].get(flow)
    assert result is not None, f"flow {flow} did not run"
    assert result["ok"], result.get("error")


def test_main_pages_have_no_serious_accessibility_violations(browser_run):
    axe = browser_run["measurements"]["axe"]
    assert {"home", "listing", "product", "sign-in"} <= set(axe)
    assert {"checkout", "checkout-declined", "challenge", "order-confirmation", "orders"} <= set(
        axe
    )
    assert {"admin-orders", "admin-order", "admin-stock-adjust", "admin-users"} <= set(axe)
    assert {"order-failed", "admin-brands", "admin-brand-edit", "admin-categories"} <= set(axe)
    assert "admin-category-edit" in axe
    assert {page: r["serious_or_critical"] for page, r in axe.items()} == dict.fromkeys(axe, 0)


def test_screenshots_at_phone_and_desktop_widths(browser_run):
    shots = {Path(p).name for p in browser_run["screenshots"]}
    pages = ("home", "listing", "product", "sign-in", "address-book", "admin-refused", "bag")
    pages += ("checkout", "checkout-declined", "challenge", "order-confirmation", "orders")
    pages += ("admin-orders", "admin-order", "admin-stock-adjust", "admin-users", "admin-payments")
    pages += ("admin-product-edit", "bag-after-reload", "order-3ds-failed")
    pages += ("admin-brands", "admin-brand-edit", "admin-categories", "admin-category-edit")
    for page in pages:
        assert {f"{page}-phone.png", f"{page}-desktop.png"} <= shots, page
    for path in browser_run["screenshots"]:
        assert Path(path).stat().st_size > 5_000, f"{path} looks blank"


def test_initial_javascript_within_budget():
    """The scripts index.html loads before the app can run, gzipped as the server sends them."""
    _require_prerequisites()
    index = (WEB / "dist" / "index.html").read_text()
    scripts = re.findall(r'<script[^>]+src="(/assets/[^"]+\.js)"', index)
    scripts += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="(/assets/[^"]+\.js)"', index)
    assert scripts, "index.html loads no script"
    size = sum(
        len(gzip.compress((WEB / "dist" / s.lstrip("/")).read_bytes(), 9)) for s in set(scripts)
    )
    assert size <= INITIAL_JS_BUDGET_GZIP, f"initial JS is {size} bytes gzipped"
