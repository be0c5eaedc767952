"""deploy/k8s, the operations side: the Celery workers' and beats' metrics are served, scraped and
let through the NetworkPolicies, and the storefront (web) is held to the services' rules. Each
rule has a test that breaks it and sees `tools/check_k8s.py` name the break. The overlays are
rendered with `kubectl kustomize`, as `make k8s-check` does."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools import check_k8s  # noqa: E402

CELERY_ROLES = ("worker", "beat")


find = check_k8s.find


def pod(objs: list[dict], name: str) -> dict:
    return find(objs, "Deployment", name)["spec"]["template"]


def main_container(objs: list[dict], name: str) -> dict:
    return pod(objs, name)["spec"]["containers"][0]


def celery_deployments(objs: list[dict]) -> list[str]:
    return sorted(
        d["metadata"]["name"]
        for d in objs
        if d["kind"] == "Deployment"
        and d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        in CELERY_ROLES
    )


def config(objs: list[dict]) -> dict[str, str]:
    return check_k8s._find_data(objs, "ConfigMap", "vanity-config")


def problems_after(rendered, overlay: str, mutate) -> list[str]:
    objs = copy.deepcopy(rendered[overlay])
    mutate(objs)
    return check_k8s.check_objects(objs, overlay) + check_k8s.validate_schemas(objs)


# ---- Celery workers and beats: metrics served, scraped, allowed ------------------------------


def test_every_worker_and_beat_is_scraped_on_the_port_the_chassis_serves(rendered, monkeypatch):
    """The rendered environment, read by the service's own settings and the chassis' Celery
    config, makes the worker/beat serve /metrics on the port its pods are annotated with."""
    from vanity_common.tasks import celery_config

    roles = check_k8s.celery_roles()
    for overlay, objs in rendered.items():
        names = celery_deployments(objs)
        assert names == sorted(f"{s}-{r}" for s, rs in roles.items() for r in rs), overlay
        for name in names:
            service = name.rsplit("-", 1)[0]
            template = pod(objs, name)
            env = check_k8s._env_of(template["spec"]["containers"][0], config(objs))
            for key in ("WORKER_METRICS_PORT", "HTTP_HOST"):
                monkeypatch.setenv(key, env[key])
            settings_module = __import__(f"vanity_{service}.settings", fromlist=["x"])
            cls = next(
                getattr(settings_module, a)
                for a in dir(settings_module)
                if a.endswith("Settings") and a not in ("ServiceSettings", "MailSettings")
            )
            host, port = celery_config(cls())["vanity_worker_metrics"]
            annotations = template["metadata"]["annotations"]
            assert (host, port) == ("0.0.0.0", 9100), (overlay, name)
            assert annotations["prometheus.io/scrape"] == "true", (overlay, name)
            assert annotations["prometheus.io/port"] == str(port), (overlay, name)
            assert annotations["prometheus.io/path"] == "/metrics", (overlay, name)


def test_prefork_workers_keep_their_pool_metrics_on_an_empty_dir(rendered):
    for objs in rendered.values():
        for name in (n for n in celery_deployments(objs) if n.endswith("-worker")):
            spec = pod(objs, name)["spec"]
            c = spec["containers"][0]
            folder = {e["name"]: e.get("value") for e in c["env"]}["PROMETHEUS_MULTIPROC_DIR"]
            (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == folder]
            (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
            assert "emptyDir" in volume, name


def test_prometheus_may_scrape_exactly_the_celery_pods_metrics_port(rendered):
    for overlay, objs in rendered.items():
        allowed = check_k8s.allowed_connections(objs)
        assert allowed == check_k8s.expected_connections(objs), overlay
        scraped = {(c[2], c[3]) for c in allowed if c[0] == "prometheus" and c[4] == 9100}
        expected = {tuple(n.rsplit("-", 1)) for n in celery_deployments(objs)}
        assert scraped == expected and ("checkout", "beat") in scraped, overlay
        # ...and nobody else reaches that port
        assert {c[0] for c in allowed if c[4] == 9100} == {"prometheus"}, overlay


def test_a_celery_pod_prometheus_cannot_reach_is_caught(rendered):
    def mutate(objs):
        objs.remove(find(objs, "NetworkPolicy", "prometheus-to-celery"))

    found = problems_after(rendered, "production", mutate)
    assert (
        "NetworkPolicy: the code needs prometheus -> checkout/worker:9100/TCP, which is not allowed"
        in found
    )
    assert (
        "NetworkPolicy: the code needs prometheus -> payments/beat:9100/TCP, which is not allowed"
        in found
    )


def test_a_worker_without_metrics_or_with_a_wrong_annotation_is_caught(rendered):
    def mutate(objs):
        worker = main_container(objs, "checkout-worker")
        worker["env"] = [e for e in worker["env"] if e["name"] != "WORKER_METRICS_PORT"]
        pod(objs, "inventory-beat")["metadata"]["annotations"]["prometheus.io/port"] = "8080"
        main_container(objs, "cart-worker")["ports"] = []
        payments = main_container(objs, "payments-worker")
        payments["env"] = [e for e in payments["env"] if e["name"] != "PROMETHEUS_MULTIPROC_DIR"]

    found = problems_after(rendered, "production", mutate)
    assert (
        "Deployment/checkout-worker: WORKER_METRICS_PORT is not set: its metrics are not served"
        in found
    )
    assert (
        "Deployment/inventory-beat: prometheus.io/port is '8080', WORKER_METRICS_PORT is 9100"
        in found
    )
    assert "Deployment/cart-worker: container worker does not declare port 9100" in found
    assert any(
        p.startswith("Deployment/payments-worker: prefork worker without PROMETHEUS_MULTIPROC_DIR")
        for p in found
    )


def test_a_solo_pool_worker_needs_no_multiprocess_folder(rendered):
    def mutate(objs):
        worker = main_container(objs, "cart-worker")
        worker["args"] = [*worker["args"], "--pool=solo"]
        worker["env"] = [e for e in worker["env"] if e["name"] != "PROMETHEUS_MULTIPROC_DIR"]

    assert not [p for p in problems_after(rendered, "production", mutate) if "cart-worker" in p]


# ---- the storefront, held to the services' rules ----------------------------------------------


def test_web_is_deployed_like_a_service(rendered):
    for overlay, objs in rendered.items():
        spec = pod(objs, "web")["spec"]
        (c,) = spec["containers"]
        assert c["image"].rsplit("/", 1)[-1].startswith("web:"), overlay
        assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert c[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, (overlay, probe)
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}
        assert set(c["resources"]["requests"]) == {"cpu", "memory"}
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert spec["securityContext"]["runAsUser"] == 10001  # the image's USER
        assert spec["automountServiceAccountToken"] is False
        service = find(objs, "Service", "web")
        assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [("http", 8080)]
        assert find(objs, "HorizontalPodAutoscaler", "web")["spec"]["minReplicas"] >= 1
        assert find(objs, "PodDisruptionBudget", "web")
    prod = rendered["production"]
    assert main_container(prod, "web")["image"] == "registry.example.com/vanity/web:0.1.0"


def test_only_kong_reaches_web_and_web_reaches_nobody(rendered):
    for overlay, objs in rendered.items():
        allowed = check_k8s.allowed_connections(objs)
        into_web = {(c[0], c[4]) for c in allowed if c[2] == "web"}
        assert into_web == {("kong", 8080)}, overlay
        assert {c[2] for c in allowed if c[0] == "web"} == {"kube-dns"}, overlay
        # the route exists in Kong's config: the storefront's upstream is that Service
        kong = check_k8s._find_data(objs, "ConfigMap", "kong-config")["kong.yml"]
        assert "http://web:8080" in kong


def test_broken_web_manifests_are_caught(rendered):
    def mutate(objs):
        c = main_container(objs, "web")
        c["readinessProbe"]["httpGet"]["path"] = "/"
        c["image"] = "registry.example.com/vanity/catalog:0.1.0"
        c["env"] = [{"name": "WEB_HTTP_PORT", "value": "8007"}]
        objs.remove(find(objs, "PodDisruptionBudget", "web"))
        # Prometheus (outside the namespace: its egress is not ours) let in, with no metrics
        find(objs, "NetworkPolicy", "web")["spec"]["ingress"][0]["from"].append(
            {
                "namespaceSelector": {},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
            }
        )

    found = problems_after(rendered, "production", mutate)
    assert "Deployment/web: readinessProbe is not GET /healthz" in found
    assert any(p.startswith("Deployment/web: image") and "not vanity/web" in p for p in found)
    assert "Deployment/web: WEB_HTTP_PORT is not 8080 (the server's port)" in found
    assert "Deployment/web: WEB_HOST is not 0.0.0.0 (127.0.0.1 by default)" in found
    assert "PodDisruptionBudget/web: missing" in found
    assert "Deployment/web: no PodDisruptionBudget covers its pods" in found
    assert (
        "NetworkPolicy: prometheus -> web/storefront:8080/TCP is allowed but nothing needs it"
        in found
    )


def test_a_missing_web_deployment_is_caught(rendered):
    def mutate(objs):
        objs.remove(find(objs, "Deployment", "web"))

    found = check_k8s.check_objects(copy.deepcopy(rendered["dev"]), "dev")
    assert not [p for p in found if "web" in p]
    found = problems_after(rendered, "dev", mutate)
    assert "Deployment/web: missing (kong.yml routes the storefront to it)" in found


def test_a_beat_schedule_built_with_the_chassis_run_every_needs_a_beat(tmp_path):
    """The services build their schedules with vanity_common.tasks.run_every({task: seconds}):
    the check reads that too (and an empty one is no schedule)."""
    pkg = tmp_path / "services" / "cart" / "src" / "vanity_cart"
    pkg.mkdir(parents=True)
    (pkg / "tasks.py").write_text('@reliable_task("cart.expire")\ndef expire():\n    pass\n')
    worker = "app = make_celery(settings, include=['vanity_cart.tasks'], beat_schedule={})\n"
    (pkg / "worker.py").write_text("SCHEDULE = run_every({})\n" + worker)
    assert check_k8s.celery_roles(tmp_path)["cart"] == {"worker"}
    (pkg / "worker.py").write_text(
        "def beat_schedule(settings):\n"
        "    return run_every({'cart.expire': settings.interval, 'cart.purge': 3600.0})\n" + worker
    )
    assert check_k8s.celery_roles(tmp_path)["cart"] == {"worker", "beat"}
