"""deploy/k8s against the code: what every rendered overlay must hold, and the facts derived from
the services' source (their Celery roles, whom they call over gRPC) that the manifests must match.
Each rule also has a test that breaks it and sees `check_k8s` name the break."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools import check_k8s  # noqa: E402

WORKLOADS = check_k8s.WORKLOADS


def of_kind(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


find = check_k8s.find


def labels_of(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---- every workload -------------------------------------------------------------------------


def test_every_workload_has_probes_limits_hardening_and_a_pdb(rendered):
    for overlay, objs in rendered.items():
        pdb_selectors = [
            p["spec"]["selector"]["matchLabels"] for p in of_kind(objs, "PodDisruptionBudget")
        ]
        workloads = [o for o in objs if o["kind"] in WORKLOADS]
        assert len(workloads) >= 19
        for w in workloads:
            where = f"[{overlay}] {w['kind']}/{w['metadata']['name']}"
            pod = w["spec"]["template"]["spec"]
            assert pod["automountServiceAccountToken"] is False, where
            assert pod["securityContext"]["runAsNonRoot"] is True, where
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
            tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
            for c in pod["containers"]:
                assert c["livenessProbe"] and c["readinessProbe"], where
            for c in pod.get("initContainers", []) + pod["containers"]:
                assert set(c["resources"]["limits"]) >= {"cpu", "memory"}, where
                assert set(c["resources"]["requests"]) >= {"cpu", "memory"}, where
                sc = c["securityContext"]
                assert sc["readOnlyRootFilesystem"] is True, where
                assert sc["allowPrivilegeEscalation"] is False, where
                assert sc["capabilities"]["drop"] == ["ALL"], where
                mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
                assert mounts.get("/tmp") in tmp_volumes, where  # noqa: S108 - a mount point
            assert any(matches(s, labels_of(w)) for s in pdb_selectors), f"{where}: no PDB"


def test_every_service_api_probes_healthz_readyz_and_grpc_health(rendered):
    for objs in rendered.values():
        for svc in check_k8s.SERVICES:
            main = find(objs, "Deployment", svc)["spec"]["template"]["spec"]["containers"][0]
            assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
            assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
            # grpc.health.v1, native, on the plaintext health-only port (50051 is mutual TLS)
            assert main["startupProbe"]["grpc"] == {"port": 50050}
            ports = {p["name"]: p["containerPort"] for p in main["ports"]}
            assert ports == {"http": 8080, "grpc": 50051, "grpc-health": 50050}


def test_every_hpa_targets_a_deployment_rendered_here(rendered):
    for objs in rendered.values():
        deployments = {d["metadata"]["name"] for d in of_kind(objs, "Deployment")}
        hpas = of_kind(objs, "HorizontalPodAutoscaler")
        assert {h["metadata"]["name"] for h in hpas} >= {*check_k8s.SERVICES, "kong", "web"}
        for hpa in hpas:
            ref = hpa["spec"]["scaleTargetRef"]
            assert ref["kind"] == "Deployment" and ref["name"] in deployments, ref
            target = find(objs, "Deployment", ref["name"])
            assert "replicas" not in target["spec"], "the HPA owns the count"


def test_migrations_run_before_the_api_starts_with_its_image_and_settings(rendered):
    for objs in rendered.values():
        for svc in check_k8s.SERVICES:
            pod = find(objs, "Deployment", svc)["spec"]["template"]["spec"]
            migrate, *after = pod["initContainers"]
            main = pod["containers"][0]
            assert migrate["args"] == ["migrate"]
            # catalog then makes sure its image bucket exists, versioned
            assert [c["args"] for c in after] == ([["images-setup"]] if svc == "catalog" else [])
            for init in (migrate, *after):
                assert init["image"] == main["image"] and init["envFrom"] == main["envFrom"]


def test_hpa_on_a_missing_deployment_and_a_workload_without_pdb_are_caught(rendered):
    objs = copy.deepcopy(rendered["production"])
    find(objs, "HorizontalPodAutoscaler", "web")["spec"]["scaleTargetRef"]["name"] = "webb"
    objs.remove(find(objs, "PodDisruptionBudget", "otel-collector"))
    found = check_k8s.check_objects(objs, "production")
    assert any("HorizontalPodAutoscaler/web" in p and "scaleTargetRef" in p for p in found)
    assert "Deployment/otel-collector: no PodDisruptionBudget covers its pods" in found


def test_hardening_gaps_are_caught(rendered):
    objs = copy.deepcopy(rendered["production"])
    pod = find(objs, "Deployment", "checkout-worker")["spec"]["template"]["spec"]
    pod["automountServiceAccountToken"] = True
    del pod["securityContext"]["seccompProfile"]
    pod["containers"][0]["volumeMounts"] = []
    api = find(objs, "Deployment", "payments")["spec"]["template"]["spec"]["containers"][0]
    api["startupProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}}
    found = check_k8s.check_objects(objs, "production")
    assert "Deployment/checkout-worker: automountServiceAccountToken is not false" in found
    assert any("checkout-worker container worker: seccompProfile" in p for p in found)
    assert any("checkout-worker container worker: no emptyDir at /tmp" in p for p in found)
    assert "Deployment/payments: no gRPC health probe on port 50050" in found


# ---- Celery: worker and beat exactly where the code has them --------------------------------


def test_worker_and_beat_deployments_are_exactly_the_codes(rendered):
    roles = check_k8s.celery_roles()
    for svc in check_k8s.SERVICES:  # no worker module, nothing to run
        if not (ROOT / "services" / svc / "src" / f"vanity_{svc}" / "worker.py").is_file():
            assert roles[svc] == set()
    expected = {f"{svc}-{role}" for svc, rs in roles.items() for role in rs}
    for objs in rendered.values():
        celery = {
            d["metadata"]["name"]
            for d in of_kind(objs, "Deployment")
            if labels_of(d).get("app.kubernetes.io/component") in {"worker", "beat"}
        }
        assert celery == expected
        for name in (n for n in expected if n.endswith("-beat")):
            beat = find(objs, "Deployment", name)
            assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {
                "type": "Recreate"
            }
            svc = name.removesuffix("-beat")
            probe = " ".join(
                beat["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"][
                    "command"
                ]
            )
            assert f"from vanity_{svc}.worker import celery_app" in probe
            args = beat["spec"]["template"]["spec"]["containers"][0]["args"]
            assert "--schedule=/tmp/celerybeat-schedule" in args  # writable: the /tmp emptyDir


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_celery_roles_are_read_from_the_worker_module_and_its_tasks(tmp_path):
    pkg = tmp_path / "services" / "cart" / "src" / "vanity_cart"
    assert check_k8s.celery_roles(tmp_path)["cart"] == set()  # no worker module
    write(pkg / "worker.py", 'app = make_celery(settings, include=["vanity_cart.tasks"])\n')
    write(pkg / "tasks.py", "def helper():\n    pass\n")
    assert check_k8s.celery_roles(tmp_path)["cart"] == set()  # a module, but no task in it
    write(pkg / "tasks.py", '@reliable_task("cart.expire")\nasync def expire():\n    pass\n')
    assert check_k8s.celery_roles(tmp_path)["cart"] == {"worker"}
    write(
        pkg / "worker.py",
        'BEAT = {"cart-expire": {"task": "cart.expire", "schedule": 60.0}}\n'
        'app = make_celery(settings, include=["vanity_cart.tasks"], beat_schedule=BEAT)\n',
    )
    assert check_k8s.celery_roles(tmp_path)["cart"] == {"worker", "beat"}


def test_a_worker_the_code_lacks_and_a_missing_beat_are_caught(rendered):
    objs = copy.deepcopy(rendered["production"])
    stray = copy.deepcopy(find(objs, "Deployment", "cart-worker"))
    stray["metadata"]["name"] = "catalog-worker"
    objs.append(stray)
    objs.remove(find(objs, "Deployment", "payments-beat"))
    find(objs, "Deployment", "inventory-beat")["spec"]["strategy"] = {"type": "RollingUpdate"}
    found = check_k8s.check_objects(objs, "production")
    assert "Deployment/catalog-worker: catalog's code has no Celery worker to run" in found
    assert "Deployment/payments-beat: missing (payments's code has a Celery beat)" in found
    assert "Deployment/inventory-beat: not 1 replica with strategy Recreate" in found


# ---- NetworkPolicies: exactly the calls the code makes --------------------------------------


def grpc_edges(connections) -> set[tuple[str, str]]:
    return {
        (c[0], c[2])
        for c in connections
        if c[4] == 50051 and c[0] in check_k8s.SERVICES and c[3] == "api"
    }


def test_network_policies_allow_exactly_the_grpc_calls_in_the_code(rendered):
    graph = check_k8s.grpc_call_graph()
    code_edges = {(svc, peer) for svc, peers in graph.items() for peer in peers}
    assert ("checkout", "payments") in code_edges and ("cart", "catalog") in code_edges
    for overlay, objs in rendered.items():
        allowed = check_k8s.allowed_connections(objs)
        assert grpc_edges(allowed) == code_edges, overlay
        # ...from every pod of the caller (API, worker, beat), to the peer's API pods only
        for svc, peer in code_edges:
            sources = {c[1] for c in allowed if c[0] == svc and c[2] == peer and c[4] == 50051}
            deployed = {
                labels_of(d)["app.kubernetes.io/component"]
                for d in of_kind(objs, "Deployment")
                if labels_of(d)["app.kubernetes.io/name"] == svc
            }
            assert sources == deployed, (overlay, svc, peer)


def test_network_policies_allow_exactly_what_the_code_and_settings_need(rendered):
    for overlay, objs in rendered.items():
        allowed = check_k8s.allowed_connections(objs)
        assert allowed == check_k8s.expected_connections(objs), overlay
        by_pair = {(c[0], c[2], c[4]) for c in allowed}
        kong_upstreams = {c[2] for c in allowed if c[0] == "kong" and c[4] == 8080}
        assert kong_upstreams == {*check_k8s.SERVICES, "web"}
        assert {c[0] for c in allowed if c[2] == "otel-collector" and c[4] == 4317} == set(
            check_k8s.SERVICES
        )
        assert ("prometheus", "catalog", 8080) in by_pair and (
            "prometheus",
            "kong",
            8100,
        ) in by_pair
        assert {(c[0], c[2]) for c in allowed if c[4] == 8000} == {
            ("external", "kong"),
            ("prometheus", "kong"),
        }
        assert not any(c[0] == "web" and c[2] != "kube-dns" for c in allowed), "web calls nobody"
        db = "mariadb" if overlay == "dev" else "external"
        assert {c[0] for c in allowed if c[2] == db and c[4] == 3306} == set(check_k8s.SERVICES)


def test_default_deny_is_in_place_both_ways(rendered):
    for objs in rendered.values():
        deny = find(objs, "NetworkPolicy", "default-deny")["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        objs = copy.deepcopy(objs)
        objs.remove(find(objs, "NetworkPolicy", "default-deny"))
        found = check_k8s.check_objects(objs, "production")
        assert "NetworkPolicy: no default-deny (podSelector {}, Ingress and Egress)" in found


def test_a_missing_and_an_extra_grpc_edge_are_caught(rendered):
    objs = copy.deepcopy(rendered["production"])
    egress = find(objs, "NetworkPolicy", "checkout-egress")["spec"]["egress"][0]
    egress["to"][0]["podSelector"]["matchExpressions"][0]["values"].remove("payments")
    ingress = find(objs, "NetworkPolicy", "payments-ingress")["spec"]["ingress"]
    ingress.append(
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "catalog"}}}],
            "ports": [{"protocol": "TCP", "port": 50051}],
        }
    )
    objs.append(  # catalog's side of the extra edge
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "catalog-to-payments", "namespace": "vanity"},
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "catalog"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "payments"}}}
                        ],
                        "ports": [{"port": 50051}],
                    }
                ],
            },
        }
    )
    found = check_k8s.check_objects(objs, "production")
    assert (
        "NetworkPolicy: the code needs checkout/api -> payments/api:50051/TCP, which is not allowed"
        in found
    )
    assert (
        "NetworkPolicy: catalog/api -> payments/api:50051/TCP is allowed but nothing needs it"
        in found
    )


def test_one_direction_alone_is_not_a_connection(rendered):
    objs = copy.deepcopy(rendered["production"])
    # payments -> checkout: payments' egress stays, checkout's ingress goes
    rules = find(objs, "NetworkPolicy", "checkout-ingress")["spec"]["ingress"]
    rules[:] = [r for r in rules if r["ports"][0]["port"] != 50051]
    assert ("payments", "checkout") not in grpc_edges(check_k8s.allowed_connections(objs))


def test_the_expected_graph_follows_the_code_not_a_list(rendered, tmp_path):
    """A copy of the sources where cart also imports payments' stub: the same manifests are now
    missing an edge, which the check reports (the graph is read from imports)."""
    for src in [ROOT / "libs" / "common" / "src", *(ROOT / "services").glob("*/src")]:
        shutil.copytree(
            src, tmp_path / src.relative_to(ROOT), ignore=shutil.ignore_patterns("__pycache__")
        )
    ports = tmp_path / "services" / "cart" / "src" / "vanity_cart" / "ports.py"
    ports.write_text("from vanity.payments.v1 import payments_pb2_grpc\n" + ports.read_text())
    # a mention in a docstring or comment is not a call
    (ports.parent / "notes.py").write_text('"""from vanity.identity.v1 import x_pb2_grpc"""\n')
    graph = check_k8s.grpc_call_graph(tmp_path)
    assert graph["cart"] == check_k8s.grpc_call_graph()["cart"] | {"payments"}
    problems: list[str] = []
    check_k8s._check_network(rendered["production"], problems, tmp_path)
    assert (
        "NetworkPolicy: the code needs cart/api -> payments/api:50051/TCP, which is not allowed"
        in problems
    )


def test_policy_evaluation_follows_kubernetes_semantics():
    def pod(name, **labels):
        return {
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": name, **labels}},
                    "spec": {
                        "containers": [
                            {"name": name, "ports": [{"name": "grpc", "containerPort": 50051}]}
                        ]
                    },
                }
            },
        }

    def policy(name, selector, **spec):
        return {
            "kind": "NetworkPolicy",
            "metadata": {"name": name},
            "spec": {"podSelector": selector, **spec},
        }

    a, b = pod("a"), pod("b")
    # no policy: everything flows (both ways, plus to and from outside)
    assert ("a", "", "b", "", 50051, "TCP") in check_k8s.allowed_connections([a, b])
    deny = policy("deny", {}, policyTypes=["Ingress", "Egress"])
    assert check_k8s.allowed_connections([a, b, deny]) == set()
    a_out = policy(
        "a-out",
        {"matchLabels": {"app.kubernetes.io/name": "a"}},
        policyTypes=["Egress"],
        egress=[{"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "b"}}}]}],
    )
    b_in = policy(
        "b-in",
        {"matchLabels": {"app.kubernetes.io/name": "b"}},
        ingress=[{"from": [{"podSelector": {}}], "ports": [{"port": "grpc"}]}],  # a named port
    )
    assert check_k8s.allowed_connections([a, b, deny, a_out]) == set()
    assert check_k8s.allowed_connections([a, b, deny, a_out, b_in]) == {
        ("a", "", "b", "", 50051, "TCP")
    }
    # a bare podSelector is this namespace only: Prometheus (another namespace) is not let in
    b_in["spec"]["ingress"][0]["from"] = [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    ]
    assert check_k8s.allowed_connections([a, b, deny, b_in]) == set()
    b_in["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {}
    assert check_k8s.allowed_connections([a, b, deny, b_in]) == {
        ("prometheus", "", "b", "", 50051, "TCP")
    }


# ---- observability ---------------------------------------------------------------------------


def config_data(objs: list[dict], prefix: str) -> dict:
    return next(o for o in of_kind(objs, "ConfigMap") if o["metadata"]["name"].startswith(prefix))[
        "data"
    ]


def test_services_send_traces_to_the_collector(rendered):
    for objs in rendered.values():
        endpoint = config_data(objs, "vanity-config")["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint == "http://otel-collector:4317"
        service = find(objs, "Service", "otel-collector")
        assert {(p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
            (4317, "otlp-grpc")
        }
        config = yaml.safe_load(config_data(objs, "otel-collector-config")["config.yaml"])
        assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
        traces = config["service"]["pipelines"]["traces"]
        assert traces["receivers"] == ["otlp"] and traces["exporters"]
        assert set(traces["exporters"]) <= set(config["exporters"])
        assert set(traces["processors"]) <= set(config["processors"])
        collector = find(objs, "Deployment", "otel-collector")["spec"]["template"]["spec"]
        (volume,) = [v for v in collector["volumes"] if "configMap" in v]
        assert volume["configMap"]["name"].startswith("otel-collector-config-")


def test_prometheus_scrape_config_discovers_annotated_pods_and_is_valid(rendered, tmp_path):
    config = yaml.safe_load(
        config_data(rendered["production"], "prometheus-config")["prometheus.yml"]
    )
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["vanity"]}}]
    assert {
        "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
        "target_label": "job",
    } in job["relabel_configs"], "the alert rules' contract: job = the service's name"
    keep = job["relabel_configs"][0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "action": "keep",
        "regex": "true",
    }
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing (Debian's prometheus package)")
        pytest.skip("promtool is not installed")
    # Debian's promtool is built without Kubernetes discovery: check the rest (relabel regexes,
    # rule file globs) with the discovery swapped for a static target.
    del job["kubernetes_sd_configs"]
    job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    run = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_prometheus_rules_are_the_monitoring_rule_files(rendered, tmp_path):
    source = sorted((ROOT / "deploy" / "monitoring" / "rules").glob("*.yaml"))
    groups = [g for path in source for g in yaml.safe_load(path.read_text())["groups"]]
    for objs in rendered.values():
        data = config_data(objs, "prometheus-rules")
        assert list(data) == [
            "vanity.rules.yaml"
        ]  # matches rule_files: /etc/prometheus/rules/*.yaml
        assert yaml.safe_load(data["vanity.rules.yaml"])["groups"] == groups
    # no rule file yet: an empty, valid rule file (the render never breaks for want of rules)
    target = tmp_path / "rules.yaml"
    assert check_k8s.ensure_prometheus_rules(tmp_path / "missing", target).startswith("0 rule")
    assert yaml.safe_load(target.read_text()) == {"groups": []}
    promtool = shutil.which("promtool")
    if promtool and source:
        check_k8s.ensure_prometheus_rules(target=target)
        run = subprocess.run(
            [promtool, "check", "rules", str(target)], capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr
