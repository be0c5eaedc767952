"""Fixtures shared by the repository-level test folders (tests/deploy, tests/ops, ...)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    """Every overlay of deploy/k8s as `kubectl kustomize` renders it (one copy per test module:
    tests that break a manifest deep-copy it first). Like MariaDB: a developer without kubectl
    skips, CI (which installs it) never does."""
    from tools import check_k8s, k8s_kong_config

    if shutil.which("kubectl") is None and os.environ.get("CI") != "true":
        pytest.skip("kubectl is not installed (make kubectl)")
    k8s_kong_config.ensure()
    check_k8s.ensure_prometheus_rules()
    return {o: check_k8s.render(check_k8s.K8S / "overlays" / o) for o in check_k8s.OVERLAYS}
