"""deploy/k8s and gRPC mutual TLS: every API and worker pod mounts its own certificate Secret
where the settings point, the kubelet probes the plaintext health-only port, and each service's
allow list of callers is exactly the services whose code calls it. Each rule is also broken on
purpose to see `check_k8s` name the break."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools import check_k8s  # noqa: E402

find = check_k8s.find


def vanity_config(objs: list[dict]) -> dict[str, str]:
    """The data of the (hash-suffixed) vanity-config ConfigMap, in place."""
    return next(
        o["data"]
        for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("vanity-config")
    )


def tls_problems(objs: list[dict]) -> list[str]:
    problems: list[str] = []
    check_k8s.check_grpc_tls(objs, problems)
    return problems


def test_every_overlay_mounts_certificates_and_allows_exactly_the_codes_callers(rendered):
    for overlay, objs in rendered.items():
        assert tls_problems(objs) == [], overlay
        config = vanity_config(objs)
        assert config["GRPC_HEALTH_PORT"] == "50050"
        assert config["ENV"] == ("development" if overlay == "dev" else "production")


def test_a_worker_without_its_certificate_is_caught(rendered):
    objs = copy.deepcopy(rendered["production"])
    worker = find(objs, "Deployment", "checkout-worker")["spec"]["template"]["spec"]
    worker["containers"][0]["volumeMounts"] = [
        m for m in worker["containers"][0]["volumeMounts"] if m["name"] != "grpc-tls"
    ]
    api = find(objs, "Deployment", "cart")["spec"]["template"]["spec"]
    next(v for v in api["volumes"] if v["name"] == "grpc-tls")["secret"]["secretName"] = (
        "checkout-grpc-tls"  # another service's identity
    )
    assert tls_problems(objs) == [
        "Deployment/cart: does not mount Secret cart-grpc-tls",
        "Deployment/checkout-worker: does not mount Secret checkout-grpc-tls",
    ]


def test_an_allow_list_wider_or_narrower_than_the_code_is_caught(rendered):
    objs = copy.deepcopy(rendered["production"])
    config = vanity_config(objs)
    config["PAYMENTS_GRPC_ALLOWED_CALLERS"] = "checkout,cart"  # cart never calls payments
    config["CATALOG_GRPC_ALLOWED_CALLERS"] = "checkout"  # but cart does call catalog
    del config["GRPC_TLS_KEY_FILE"]
    found = tls_problems(objs)
    assert any(p.startswith("vanity-config: PAYMENTS_GRPC_ALLOWED_CALLERS") for p in found)
    assert any(p.startswith("vanity-config: CATALOG_GRPC_ALLOWED_CALLERS") for p in found)
    assert any("GRPC_TLS_KEY_FILE" in p for p in found)
    assert len(found) == 3
