"""Offline validation of deploy/k8s (`make k8s-check`).

1. Makes sure the base's generated Kong config exists (tools/k8s_kong_config.py: a copy of
   gateway/kong.yml, or a placeholder before it exists; a rendered config is kept).
2. Renders every overlay with `kubectl kustomize` (kustomize v5: components, replacements).
3. Validates every object against the Kubernetes JSON schemas (kubernetes-validate, strict:
   unknown fields are errors) for KUBE_VERSION, without a cluster.
4. Checks the project's rules that a schema cannot express (see `check_objects`): probes
   (a native gRPC health probe on each service), requests and limits, hardening (non-root,
   read-only root with an emptyDir /tmp, seccomp, no token), selectors and HPA/PDB/Service
   references, a PDB for every workload, no literal secret.
5. Checks the manifests against the code: Celery worker/beat Deployments exactly for the
   services whose source has tasks/a beat schedule (`celery_roles`), and NetworkPolicies
   (default-deny) whose allowed connections (`allowed_connections`, Kubernetes semantics) are
   exactly those the code and its settings need (`expected_connections`: the gRPC graph is read
   from the stub imports in services/*/src and libs/common, `grpc_call_graph`).

Exits 1 naming every problem, 0 when there is none.
"""

from __future__ import annotations

import argparse
import ast
import base64
import binascii
import contextlib
import functools
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tools import k8s_kong_config

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
MONITORING_RULES = ROOT / "deploy" / "monitoring" / "rules"
# kustomize reads nothing outside its root: the rules are copied in (git-ignored) before a render
PROMETHEUS_RULES = K8S / "base" / "observability" / "prometheus-rules.yaml"
OVERLAYS = ("dev", "production")
KUBE_VERSION = "1.31.0"
MIN_KUSTOMIZE_MAJOR = 5
SERVICES = ("identity", "catalog", "inventory", "cart", "checkout", "payments")
DEV_SECRET_MARKER = "dev-insecure"  # vanity_common.settings.DEV_SECRET_MARKER
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
SECRETISH = re.compile(
    r"(PASSWORD|PASSWD|SECRET|SECRET_KEY|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)$", re.I
)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:([^@\s/]+)@", re.I)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
# deploy/k8s/components/service writes the service's name over this placeholder
PLACEHOLDER = re.compile(r"\bSERVICE\b")
CELERY_APP = re.compile(r"\bvanity_([a-z]+)\.worker\b")
STUB_MODULE = re.compile(r"^vanity\.([a-z]+)\.v1\.\1_pb2_grpc$")  # a service's client stubs
# Calls that leave the cluster, which no manifest or setting names as a host: payments -> Stripe's
# API (HTTPS), catalog -> the image bucket (S3, HTTPS), identity and checkout -> the SMTP relay
# (submission with STARTTLS).
INTERNET_EGRESS = {"payments": {443}, "identity": {587}, "checkout": {587}, "catalog": {443}}
# Where the pods outside namespace vanity that the policies name live (a model of the cluster).
PROMETHEUS_POD = ("monitoring", {"app.kubernetes.io/name": "prometheus"})
DNS_POD = ("kube-system", {"k8s-app": "kube-dns"})
Obj = dict[str, Any]


def ident(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('name')}"


def pod_template(obj: Obj) -> Obj | None:
    if obj.get("kind") in WORKLOADS:
        return (obj.get("spec") or {}).get("template") or {}
    return None


def containers(pod_spec: Obj, init: bool = True) -> list[Obj]:
    out = list(pod_spec.get("containers") or [])
    return (list(pod_spec.get("initContainers") or []) + out) if init else out


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---- rules ----------------------------------------------------------------------------------


def _check_workload(obj: Obj, problems: list[str]) -> None:
    name = ident(obj)
    template = pod_template(obj) or {}
    spec = template.get("spec") or {}
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not _matches(selector, (template.get("metadata") or {}).get("labels") or {}):
        problems.append(f"{name}: spec.selector.matchLabels does not match the pod labels")
    pod_sc = spec.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: automountServiceAccountToken is not false")
    empty_dirs = {v.get("name") for v in spec.get("volumes") or [] if "emptyDir" in v}
    for c in containers(spec):
        where = f"{name} container {c.get('name')}"
        sc = c.get("securityContext") or {}
        if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
            problems.append(f"{where}: runAsNonRoot is not true")
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if uid == 0:
            problems.append(f"{where}: runAsUser is 0 (root)")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            problems.append(f"{where}: privileged")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{where}: capabilities do not drop ALL")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile is not RuntimeDefault")
        if not any(
            m.get("mountPath") == "/tmp"  # noqa: S108 - a mount point, not a file we write
            and m.get("name") in empty_dirs
            for m in c.get("volumeMounts") or []
        ):
            problems.append(f"{where}: no emptyDir at /tmp (the root filesystem is read-only)")
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in (resources.get(kind) or {}):
                    problems.append(f"{where}: no resources.{kind}.{res}")
        image = c.get("image") or ""
        tail = image.rsplit("/", 1)[-1]
        if "@" not in image and (":" not in tail or tail.endswith(":latest")):
            problems.append(f"{where}: image {image!r} is not pinned to a tag or digest")
    for c in containers(spec, init=False):
        where = f"{name} container {c.get('name')}"
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        for probe_name in ("livenessProbe", "readinessProbe"):
            probe = c.get(probe_name)
            if not probe:
                problems.append(f"{where}: no {probe_name}")
                continue
            _check_probe_port(where, probe_name, probe, ports, problems)
        if c.get("startupProbe"):
            _check_probe_port(where, "startupProbe", c["startupProbe"], ports, problems)


def _check_probe_port(where: str, which: str, probe: Obj, ports: dict, problems: list[str]):
    for handler in ("httpGet", "tcpSocket", "grpc"):
        if handler not in probe:
            continue
        port = probe[handler].get("port")
        if isinstance(port, str):
            if port not in ports:
                problems.append(f"{where}: {which} uses port {port!r}, no container port named so")
        elif port not in ports.values():
            problems.append(f"{where}: {which} uses port {port}, not a container port")


def _api_service_rules(objs: list[Obj], problems: list[str]) -> None:
    """Each service: a Deployment with a startup probe, /healthz and /readyz, migrations, and a
    Service exposing http 8080 and grpc 50051."""
    by_id = {ident(o): o for o in objs}
    for svc in SERVICES:
        dep = by_id.get(f"Deployment/{svc}")
        if dep is None:
            problems.append(f"Deployment/{svc}: missing")
            continue
        spec = (pod_template(dep) or {}).get("spec") or {}
        main = next((c for c in spec.get("containers") or [] if c.get("name") == svc), None)
        if main is None:
            problems.append(f"Deployment/{svc}: no container named {svc}")
            continue
        paths = {
            p: ((main.get(p) or {}).get("httpGet") or {}).get("path")
            for p in ("livenessProbe", "readinessProbe", "startupProbe")
        }
        if paths["livenessProbe"] != "/healthz":
            problems.append(f"Deployment/{svc}: livenessProbe is not GET /healthz")
        if paths["readinessProbe"] != "/readyz":
            problems.append(f"Deployment/{svc}: readinessProbe is not GET /readyz")
        if not main.get("startupProbe"):
            problems.append(f"Deployment/{svc}: no startupProbe")
        # gRPC on 50051 is mutual TLS, which the kubelet's native probe cannot speak: it probes
        # the plaintext health-only port (GRPC_HEALTH_PORT, docs/grpc.md).
        if not any(
            ((main.get(p) or {}).get("grpc") or {}).get("port") == 50050
            for p in ("livenessProbe", "readinessProbe", "startupProbe")
        ):
            problems.append(f"Deployment/{svc}: no gRPC health probe on port 50050")
        ports = {p.get("name"): p.get("containerPort") for p in main.get("ports") or []}
        if ports.get("http") != 8080 or ports.get("grpc") != 50051:
            problems.append(f"Deployment/{svc}: container ports are not http 8080 + grpc 50051")
        if ports.get("grpc-health") != 50050:
            problems.append(f"Deployment/{svc}: no container port grpc-health 50050")
        migrates = any(
            (c.get("args") or [])[:1] == ["migrate"] for c in spec.get("initContainers") or []
        ) or any(
            o.get("kind") == "Job" and "migrate" in str(o.get("spec")) and svc in str(o.get("spec"))
            for o in objs
        )
        if not migrates:
            problems.append(f"Deployment/{svc}: no migration (initContainer or Job)")
        service = by_id.get(f"Service/{svc}")
        if service is None:
            problems.append(f"Service/{svc}: missing")
            continue
        sports = {p.get("name"): p.get("port") for p in service["spec"].get("ports") or []}
        if sports.get("http") != 8080 or sports.get("grpc") != 50051:
            problems.append(f"Service/{svc}: does not expose http 8080 and grpc 50051")
        if f"HorizontalPodAutoscaler/{svc}" not in by_id:
            problems.append(f"HorizontalPodAutoscaler/{svc}: missing")
        if f"PodDisruptionBudget/{svc}" not in by_id:
            problems.append(f"PodDisruptionBudget/{svc}: missing")


def _check_service_images(objs: list[Obj], problems: list[str]) -> None:
    """A service's API, worker and beat run that service's image (vanity/<name>, any registry)."""
    for obj in objs:
        if obj.get("kind") not in WORKLOADS:
            continue
        svc = ((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name")
        if svc not in SERVICES:
            continue
        for c in containers((pod_template(obj) or {}).get("spec") or {}):
            repository = re.split(r"[:@]", (c.get("image") or "").rsplit("/", 1)[-1])[0]
            if repository != svc:
                problems.append(f"{ident(obj)} container {c.get('name')}: image is not {svc}'s")


def _check_placeholders(objs: list[Obj], problems: list[str]) -> None:
    for obj in objs:
        if obj.get("kind") != "ConfigMap" and PLACEHOLDER.search(yaml.safe_dump(obj)):
            problems.append(f"{ident(obj)}: the placeholder SERVICE was not replaced")


def _check_services(objs: list[Obj], problems: list[str]) -> None:
    pods = [
        (o, (pod_template(o) or {}).get("metadata", {}).get("labels") or {})
        for o in objs
        if o.get("kind") in WORKLOADS
    ]
    for svc in (o for o in objs if o.get("kind") == "Service"):
        selector = (svc.get("spec") or {}).get("selector") or {}
        targets = [o for o, labels in pods if _matches(selector, labels)]
        if not targets:
            problems.append(f"{ident(svc)}: selector {selector} matches no workload's pods")
            continue
        for port in svc["spec"].get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for workload in targets:
                cports = [
                    p
                    for c in containers((pod_template(workload) or {}).get("spec") or {}, False)
                    for p in c.get("ports") or []
                ]
                ok = any(
                    p.get("name") == target
                    if isinstance(target, str)
                    else p.get("containerPort") == target
                    for p in cports
                )
                if not ok:
                    problems.append(
                        f"{ident(svc)}: port {port.get('name')} targets {target!r}, "
                        f"not a port of {ident(workload)}"
                    )


def _check_scalers(objs: list[Obj], problems: list[str]) -> None:
    workloads = {ident(o): o for o in objs if o.get("kind") in WORKLOADS}
    for hpa in (o for o in objs if o.get("kind") == "HorizontalPodAutoscaler"):
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if f"{ref.get('kind')}/{ref.get('name')}" not in workloads:
            problems.append(f"{ident(hpa)}: scaleTargetRef {ref} is not a workload here")
        spec = hpa.get("spec") or {}
        if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
            problems.append(f"{ident(hpa)}: minReplicas above maxReplicas")
        target = workloads.get(f"{ref.get('kind')}/{ref.get('name')}")
        if target:
            for c in containers((pod_template(target) or {}).get("spec") or {}, False):
                if "cpu" not in ((c.get("resources") or {}).get("requests") or {}):
                    problems.append(f"{ident(hpa)}: CPU target but {c.get('name')} requests no cpu")
    pdb_selectors = [
        ((o.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        for o in objs
        if o.get("kind") == "PodDisruptionBudget"
    ]
    for name, w in workloads.items():
        labels = (pod_template(w) or {}).get("metadata", {}).get("labels") or {}
        if not any(_matches(selector, labels) for selector in pdb_selectors):
            problems.append(f"{name}: no PodDisruptionBudget covers its pods")
    for pdb in (o for o in objs if o.get("kind") == "PodDisruptionBudget"):
        selector = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not any(
            _matches(selector, (pod_template(w) or {}).get("metadata", {}).get("labels") or {})
            for w in workloads.values()
        ):
            problems.append(f"{ident(pdb)}: selector {selector} matches no workload's pods")


def _check_references(objs: list[Obj], problems: list[str], overlay: str) -> None:
    """ConfigMaps must exist; Secrets must exist in dev (production: created by the operator)."""
    present = {ident(o) for o in objs}
    for w in (o for o in objs if o.get("kind") in WORKLOADS):
        spec = (pod_template(w) or {}).get("spec") or {}
        refs = []
        for c in containers(spec):
            for ef in c.get("envFrom") or []:
                if "configMapRef" in ef:
                    refs.append(("ConfigMap", ef["configMapRef"]["name"]))
                if "secretRef" in ef:
                    refs.append(("Secret", ef["secretRef"]["name"]))
            for env in c.get("env") or []:
                vf = env.get("valueFrom") or {}
                if "configMapKeyRef" in vf:
                    refs.append(("ConfigMap", vf["configMapKeyRef"]["name"]))
                if "secretKeyRef" in vf:
                    refs.append(("Secret", vf["secretKeyRef"]["name"]))
        for vol in spec.get("volumes") or []:
            if "configMap" in vol:
                refs.append(("ConfigMap", vol["configMap"]["name"]))
            if "secret" in vol:
                refs.append(("Secret", vol["secret"]["secretName"]))
        sa = spec.get("serviceAccountName")
        if sa and sa != "default":
            refs.append(("ServiceAccount", sa))
        for kind, name in refs:
            # dev too: signing keys and gRPC certificates are made by hand or cert-manager
            operator_made = kind == "Secret" and (
                overlay != "dev" or name == "identity-keys" or name.endswith("-grpc-tls")
            )
            if f"{kind}/{name}" not in present and not operator_made:
                problems.append(f"{ident(w)}: refers to {kind}/{name}, which is not rendered")


def _secret_values(obj: Obj) -> dict[str, str]:
    out = dict(obj.get("stringData") or {})
    for k, v in (obj.get("data") or {}).items():
        try:
            out[k] = base64.b64decode("".join(str(v).split())).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            out[k] = str(v)
    return out


def _check_no_secrets(objs: list[Obj], problems: list[str], overlay: str) -> None:
    """No literal secret anywhere, except dev overlay Secrets whose values are marked
    `dev-insecure` (what production refuses to start with)."""
    for obj in objs:
        if obj.get("kind") == "Secret":
            for key, value in _secret_values(obj).items():
                if overlay == "dev" and DEV_SECRET_MARKER in value:
                    continue
                if overlay == "dev" and not (SECRETISH.search(key) or _has_password(value)):
                    continue  # a URL without credentials, a setting
                problems.append(
                    f"{ident(obj)}: literal secret value for {key} committed in overlay {overlay}"
                    + (" (dev values must contain 'dev-insecure')" if overlay == "dev" else "")
                )
        if obj.get("kind") == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                for problem in _secretish_text(str(value)):
                    problems.append(f"{ident(obj)}: {key}: {problem}")
                if SECRETISH.search(key) and value:
                    problems.append(f"{ident(obj)}: {key} looks like a secret in a ConfigMap")
        template = pod_template(obj)
        for c in containers((template or {}).get("spec") or {}):
            for env in c.get("env") or []:
                if "value" in env and (
                    SECRETISH.search(env["name"]) or _has_password(str(env["value"]))
                ):
                    problems.append(
                        f"{ident(obj)} container {c.get('name')}: env {env['name']} has a literal"
                        " value; use a secretKeyRef"
                    )


def _has_password(text: str) -> bool:
    return any(
        not m.group(1).startswith(("$(", "{vault://")) for m in URL_WITH_PASSWORD.finditer(text)
    )


def _secretish_text(text: str) -> list[str]:
    found = []
    if _has_password(text):
        found.append("a URL with a password")
    if PRIVATE_KEY.search(text):
        found.append("a PEM private key")
    return found


def check_kong_config(objs: list[Obj], problems: list[str]) -> None:
    """The Kong ConfigMap parses, is DB-less format 3.0, routes to Services rendered here, has
    no symmetric (HS*) jwt secret and no Redis password in clear."""
    kong_cms = [
        o
        for o in objs
        if o.get("kind") == "ConfigMap" and o["metadata"]["name"].startswith("kong-config")
    ]
    if len(kong_cms) != 1:
        problems.append(f"ConfigMap/kong-config: expected one, found {len(kong_cms)}")
        return
    cm = kong_cms[0]
    try:
        doc = yaml.safe_load(cm.get("data", {}).get("kong.yml", "")) or {}
    except yaml.YAMLError as exc:
        problems.append(f"{ident(cm)}: kong.yml is not YAML ({exc})")
        return
    if str(doc.get("_format_version")) != "3.0":
        problems.append(f"{ident(cm)}: kong.yml _format_version is not 3.0")
    services = {
        (o["metadata"]["name"], p.get("port"))
        for o in objs
        if o.get("kind") == "Service"
        for p in o["spec"].get("ports") or []
    }
    for s in doc.get("services") or []:
        url = s.get("url") or f"{s.get('protocol', 'http')}://{s.get('host')}:{s.get('port', 80)}"
        u = urlsplit(url)
        host = (u.hostname or "").split(".")[0]
        if (host, u.port or 80) not in services:
            problems.append(
                f"{ident(cm)}: Kong service {s.get('name')} points at {url}, "
                "not a Service port rendered here"
            )
    for consumer in doc.get("consumers") or []:
        for cred in consumer.get("jwt_secrets") or []:
            if str(cred.get("algorithm", "HS256")).startswith("HS"):
                problems.append(
                    f"{ident(cm)}: consumer {consumer.get('username')} has an HS* jwt secret "
                    "(a shared secret has no place in a ConfigMap)"
                )
    text = yaml.safe_dump(doc)
    if re.search(r"^\s*password:\s*(?!['\"]?\{vault://)\S", text, re.M):
        problems.append(f"{ident(cm)}: a password in clear (use a {{vault://env/...}} reference)")


# ---- what the code says: Celery roles and the gRPC call graph -------------------------------


def _package(svc: str, root: Path) -> Path:
    return root / "services" / svc / "src" / f"vanity_{svc}"


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError):
        return None


def _defines_tasks(module: Path) -> bool:
    """A function decorated by something named *task* (`@reliable_task(...)`, `@app.task`)."""
    tree = _parse(module)
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                name = (
                    target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                )
                if "task" in name:
                    return True
    return False


def celery_roles(root: Path = ROOT) -> dict[str, set[str]]:
    """Per service, the Celery Deployments its code needs: "worker" when vanity_<name>.worker
    exists and a module it includes (`include=["vanity_<name>.tasks"]`) defines tasks, "beat"
    when the worker module also holds a beat schedule: a dict with "task" and "schedule", or a
    call of the chassis' `run_every({...})` with at least one task."""
    roles: dict[str, set[str]] = {}
    for svc in SERVICES:
        package = _package(svc, root)
        tree = _parse(package / "worker.py")
        roles[svc] = set()
        if tree is None:
            continue
        included = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith(f"vanity_{svc}.")
        }
        if any(
            _defines_tasks(package.joinpath(*name.split(".")[1:]).with_suffix(".py"))
            for name in included
        ):
            roles[svc].add("worker")
            if _has_beat_schedule(tree):
                roles[svc].add("beat")
    return roles


def _has_beat_schedule(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"task", "schedule"} <= keys:
                return True
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            name = name or getattr(node.func, "id", "")
            first = node.args[0]
            if name == "run_every" and isinstance(first, ast.Dict) and first.keys:
                return True
    return False


def _imported_stubs(files: list[Path]) -> set[str]:
    """The services whose generated gRPC stub module (vanity.<x>.v1.<x>_pb2_grpc) is imported."""
    found = set()
    for path in files:
        tree = _parse(path)
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            else:
                continue
            found.update(m.group(1) for m in map(STUB_MODULE.match, modules) if m)
    return found


def grpc_call_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """service -> the services it calls over gRPC: the peers whose stub its package imports, plus
    the chassis' (libs/common: e.g. identity's ended-sessions feed in every service's auth),
    never itself (its own stub module is its server side)."""
    chassis = _imported_stubs(sorted((root / "libs" / "common" / "src").rglob("*.py")))
    return {
        svc: (_imported_stubs(sorted(_package(svc, root).rglob("*.py"))) | chassis) - {svc}
        for svc in SERVICES
    }


# ---- NetworkPolicy evaluation ---------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A pod (one per workload template), a pod outside the namespace, or `external` (any
    address outside the cluster: what ipBlock peers stand for)."""

    name: str
    component: str = ""
    namespace: str = "vanity"
    labels: tuple[tuple[str, str], ...] = ()
    ports: tuple[tuple[str | None, int, str], ...] = ()  # (name, number, protocol)

    @property
    def is_external(self) -> bool:
        return self.name == "external"

    def port_number(self, port: int | str) -> int | None:
        if isinstance(port, int):
            return port
        return next((n for name, n, _ in self.ports if name == port), None)


# (source name, source component, destination name, destination component, port, protocol)
Connection = tuple[str, str, str, str, int, str]


def _selects(selector: Obj | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        present, value = expr["key"] in labels, labels.get(expr["key"])
        op, values = expr["operator"], expr.get("values") or []
        if (
            (op == "In" and value not in values)
            or (op == "NotIn" and present and value in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _peer_matches(peer: Obj, other: Endpoint) -> bool:
    """An ipBlock stands for addresses outside the cluster only (on a real cluster pod IPs in
    the range match too; those pods still admit only what their own ingress allows)."""
    if "ipBlock" in peer:
        return other.is_external
    if other.is_external:
        return False
    labels = dict(other.labels)
    ns_labels = {"kubernetes.io/metadata.name": other.namespace}
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], ns_labels):
            return False
    elif other.namespace != "vanity":
        return False
    return _selects(peer.get("podSelector", {}), labels)


def _rule_allows(
    rule: Obj, peers_key: str, other: Endpoint, dst: Endpoint, port: int, proto: str
) -> bool:
    ports = rule.get("ports") or []
    if ports and not any(
        p.get("protocol", "TCP") == proto
        and ("port" not in p or dst.port_number(p["port"]) == port)
        for p in ports
    ):
        return False
    peers = rule.get(peers_key)
    return not peers or any(_peer_matches(peer, other) for peer in peers)


def _policy_types(policy: Obj) -> list[str]:
    spec = policy.get("spec") or {}
    return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))


def _allowed_one_way(policies, direction, subject, other, dst, port, proto) -> bool:
    """The subject's side: not isolated in this direction, or some rule admits `other`."""
    if subject.is_external or subject.namespace != "vanity":
        return True  # outside the namespace: not governed by these policies
    selecting = [
        p
        for p in policies
        if direction in _policy_types(p)
        and _selects((p.get("spec") or {}).get("podSelector", {}), dict(subject.labels))
    ]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return any(
        _rule_allows(rule, peers_key, other, dst, port, proto)
        for p in selecting
        for rule in (p.get("spec") or {}).get(key) or []
    )


def endpoints(objs: list[Obj]) -> list[Endpoint]:
    """One endpoint per workload's pod template, Prometheus, kube-dns, and `external`."""
    out = []
    for w in (o for o in objs if o.get("kind") in WORKLOADS):
        template = pod_template(w) or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        ports = tuple(
            (p.get("name"), p["containerPort"], p.get("protocol", "TCP"))
            for c in containers(template.get("spec") or {}, False)
            for p in c.get("ports") or []
        )
        out.append(
            Endpoint(
                labels.get("app.kubernetes.io/name", w["metadata"]["name"]),
                labels.get("app.kubernetes.io/component", ""),
                labels=tuple(sorted(labels.items())),
                ports=ports,
            )
        )
    out.append(
        Endpoint("prometheus", namespace=PROMETHEUS_POD[0], labels=tuple(PROMETHEUS_POD[1].items()))
    )
    out.append(
        Endpoint(
            "kube-dns",
            namespace=DNS_POD[0],
            labels=tuple(DNS_POD[1].items()),
            ports=(("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")),
        )
    )
    return out


def allowed_connections(objs: list[Obj]) -> set[Connection]:
    """Every (source, destination port) the rendered NetworkPolicies let through in BOTH
    directions: the source's egress and the destination's ingress, for every pair with at least
    one end in namespace vanity. Destinations: each pod's declared ports, kube-dns, and
    `external` on every port some policy names."""
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    pods = endpoints(objs)
    external = Endpoint("external", namespace="")
    policy_ports = {
        (p["port"], p.get("protocol", "TCP"))
        for pol in policies
        for key in ("ingress", "egress")
        for rule in (pol.get("spec") or {}).get(key) or []
        for p in rule.get("ports") or []
        if isinstance(p.get("port"), int)
    }
    external_with_ports = Endpoint(
        "external", namespace="", ports=tuple((None, n, proto) for n, proto in sorted(policy_ports))
    )
    allowed = set()
    for src in [*(p for p in pods if p.name != "kube-dns"), external]:  # DNS only answers
        for dst in [*pods, external_with_ports]:
            if "vanity" not in (src.namespace, dst.namespace):
                continue  # neither end is governed by these policies
            for _, port, proto in dst.ports:
                if _allowed_one_way(
                    policies, "Egress", src, dst, dst, port, proto
                ) and _allowed_one_way(policies, "Ingress", dst, src, dst, port, proto):
                    allowed.add((src.name, src.component, dst.name, dst.component, port, proto))
    return allowed


# ---- NetworkPolicy: what the code needs -----------------------------------------------------


def _find_data(objs: list[Obj], kind: str, name: str) -> dict[str, str] | None:
    """The data of a (possibly hash-suffixed, generated) ConfigMap or Secret."""
    for o in objs:
        if o.get("kind") == kind and re.fullmatch(
            rf"{re.escape(name)}(-[a-z0-9]{{10}})?", o["metadata"]["name"]
        ):
            return _secret_values(o) if kind == "Secret" else dict(o.get("data") or {})
    return None


def _service_backends(
    objs: list[Obj], pods: list[Endpoint], host: str, port: int
) -> list[tuple[Endpoint, int]]:
    """The pods (and container port) behind `host:port` when host is a Service rendered here."""
    name = host.split(".")[0]
    service = next(
        (o for o in objs if o.get("kind") == "Service" and o["metadata"]["name"] == name), None
    )
    if service is None:
        return []
    selector = {"matchLabels": (service.get("spec") or {}).get("selector") or {}}
    out = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        if sp.get("port") != port:
            continue
        for pod in pods:
            if (
                pod.namespace == "vanity"
                and selector["matchLabels"]
                and _selects(selector, dict(pod.labels))
            ):
                number = pod.port_number(sp.get("targetPort", port))
                if number is not None:
                    out.append((pod, number))
    return out


def expected_connections(objs: list[Obj], root: Path = ROOT) -> set[Connection]:
    """Exactly the connections the code and its configuration make (the rendered settings name
    the hosts; the code says who calls whom):
    - every pod -> kube-dns (53 UDP and TCP);
    - outside -> Kong's proxy (the `gateway` Service), Kong -> each upstream of its kong.yml;
    - each service's pods -> the gRPC peers its code imports stubs of (grpc_call_graph), at
      `<PEER>_GRPC_TARGET`;
    - every service but identity -> JWKS_URL (the chassis verifies tokens with identity's keys);
    - every service -> OTEL_EXPORTER_OTLP_ENDPOINT (the collector);
    - every service -> the host of its DATABASE_URL and of REDIS_URL/CELERY_BROKER_URL, Kong ->
      Redis (rate-limit counters); outside the cluster when the Secret is not rendered here;
    - Prometheus -> every pod's `prometheus.io/port`;
    - INTERNET_EGRESS (Stripe, SMTP)."""
    pods = endpoints(objs)
    external = Endpoint("external", namespace="")
    config = _find_data(objs, "ConfigMap", "vanity-config") or {}
    expected: set[Connection] = set()

    def named(name: str) -> list[Endpoint]:
        return [p for p in pods if p.name == name and p.namespace == "vanity"]

    def add(sources: list[Endpoint], backends: list[tuple[Endpoint, int]], proto: str = "TCP"):
        for s in sources:
            for d, port in backends:
                expected.add((s.name, s.component, d.name, d.component, port, proto))

    def url_backends(url: str, default_port: int) -> list[tuple[Endpoint, int]]:
        u = urlsplit(url if "://" in url else f"tcp://{url}")
        port = u.port or default_port
        return _service_backends(objs, pods, u.hostname or "", port) or [(external, port)]

    dns = next(p for p in pods if p.name == "kube-dns")
    for pod in (p for p in pods if p.namespace == "vanity"):
        add([pod], [(dns, 53)], "UDP")
        add([pod], [(dns, 53)], "TCP")
    prometheus = next(p for p in pods if p.name == "prometheus")
    # the proxy is open to any client (outside, or another namespace's pod like Prometheus)
    add([external, prometheus], _service_backends(objs, pods, "gateway", 80))
    kong = _find_data(objs, "ConfigMap", "kong-config") or {}
    for upstream in (yaml.safe_load(kong.get("kong.yml", "")) or {}).get("services") or []:
        add(named("kong"), url_backends(upstream.get("url", ""), 80))
    for svc, peers in grpc_call_graph(root).items():
        for peer in sorted(peers):
            add(named(svc), url_backends(config.get(f"{peer.upper()}_GRPC_TARGET", ""), 50051))
    jwks = config.get("JWKS_URL")
    if jwks:
        jwks_owner = (urlsplit(jwks).hostname or "").split(".")[0]
        for svc in SERVICES:
            if svc != jwks_owner:
                add(named(svc), url_backends(jwks, 80))
    otlp = config.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if otlp:
        for svc in SERVICES:
            add(named(svc), url_backends(otlp, 4317))
    redis = _find_data(objs, "Secret", "vanity-redis")
    redis_urls = (
        [redis[k] for k in ("REDIS_URL", "CELERY_BROKER_URL") if k in redis] if redis else []
    )
    redis_backends = [b for url in redis_urls for b in url_backends(url, 6379)] or [
        (external, 6379)
    ]
    for svc in SERVICES:
        secret = _find_data(objs, "Secret", f"{svc}-secrets")
        db = url_backends(secret["DATABASE_URL"], 3306) if secret else [(external, 3306)]
        add(named(svc), db + redis_backends)
    add(named("kong"), redis_backends)
    for w in (o for o in objs if o.get("kind") in WORKLOADS):
        annotations = ((pod_template(w) or {}).get("metadata") or {}).get("annotations") or {}
        if annotations.get("prometheus.io/scrape") == "true":
            labels = ((pod_template(w) or {}).get("metadata") or {}).get("labels") or {}
            target = next(p for p in pods if dict(p.labels) == labels)
            add([prometheus], [(target, int(annotations["prometheus.io/port"]))])
    for svc, ports in INTERNET_EGRESS.items():
        add(named(svc), [(external, port) for port in ports])
    return expected


def _describe(c: Connection) -> str:
    src = f"{c[0]}/{c[1]}" if c[1] else c[0]
    dst = f"{c[2]}/{c[3]}" if c[3] else c[2]
    return f"{src} -> {dst}:{c[4]}/{c[5]}"


def _check_network(objs: list[Obj], problems: list[str], root: Path = ROOT) -> None:
    """Default-deny both ways, and the allowed connections are exactly the expected ones."""
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    if not any(
        (p.get("spec") or {}).get("podSelector") == {}
        and set(_policy_types(p)) == {"Ingress", "Egress"}
        and not (p["spec"].get("ingress") or p["spec"].get("egress"))
        for p in policies
    ):
        problems.append("NetworkPolicy: no default-deny (podSelector {}, Ingress and Egress)")
    allowed, expected = allowed_connections(objs), expected_connections(objs, root)
    for c in sorted(expected - allowed):
        problems.append(f"NetworkPolicy: the code needs {_describe(c)}, which is not allowed")
    for c in sorted(allowed - expected):
        problems.append(f"NetworkPolicy: {_describe(c)} is allowed but nothing needs it")


def _check_celery(objs: list[Obj], problems: list[str], root: Path = ROOT) -> None:
    """Worker and beat Deployments exactly for the services whose code has tasks / a beat
    schedule (celery_roles); a beat runs one replica, recreated (never two schedulers)."""
    deployments = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "Deployment"}
    for svc, roles in celery_roles(root).items():
        for role in ("worker", "beat"):
            name = f"{svc}-{role}"
            if role in roles and name not in deployments:
                problems.append(f"Deployment/{name}: missing ({svc}'s code has a Celery {role})")
            if role not in roles and name in deployments:
                problems.append(f"Deployment/{name}: {svc}'s code has no Celery {role} to run")
        beat = deployments.get(f"{svc}-beat")
        if beat is not None:
            spec = beat.get("spec") or {}
            if spec.get("replicas") != 1 or (spec.get("strategy") or {}).get("type") != "Recreate":
                problems.append(f"Deployment/{svc}-beat: not 1 replica with strategy Recreate")


def _env_of(container: Obj, config: dict[str, str]) -> dict[str, str]:
    """A container's environment as far as the manifests say: the vanity-config ConfigMap
    (its envFrom), overridden by literal `env` values (Kubernetes' precedence)."""
    out: dict[str, str] = {}
    for ref in container.get("envFrom") or []:
        name = (ref.get("configMapRef") or {}).get("name") or ""
        if re.fullmatch(r"vanity-config(-[a-z0-9]{10})?", name):
            out.update(config)
    out.update({e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e})
    return out


def _check_celery_metrics(objs: list[Obj], problems: list[str]) -> None:
    """Every Celery worker and beat serves /metrics (WORKER_METRICS_PORT > 0, the chassis'
    serve_worker_metrics), declares that port, and is annotated for Prometheus on it; a worker
    with the prefork pool (where tasks run in child processes) sets PROMETHEUS_MULTIPROC_DIR to
    an emptyDir, so the children's metrics reach the endpoint and die with the pod."""
    config = _find_data(objs, "ConfigMap", "vanity-config") or {}
    for dep in (o for o in objs if o.get("kind") == "Deployment"):
        template = pod_template(dep) or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        role = labels.get("app.kubernetes.io/component")
        if labels.get("app.kubernetes.io/name") not in SERVICES or role not in ("worker", "beat"):
            continue
        name, spec = ident(dep), template.get("spec") or {}
        main = (spec.get("containers") or [{}])[0]
        env = _env_of(main, config)
        port = env.get("WORKER_METRICS_PORT", "0")
        if not port.isdigit() or int(port) <= 0:
            problems.append(f"{name}: WORKER_METRICS_PORT is not set: its metrics are not served")
            continue
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        if annotations.get("prometheus.io/scrape") != "true":
            problems.append(f"{name}: pods not annotated prometheus.io/scrape: 'true'")
        if annotations.get("prometheus.io/port") != port:
            problems.append(
                f"{name}: prometheus.io/port is {annotations.get('prometheus.io/port')!r}, "
                f"WORKER_METRICS_PORT is {port}"
            )
        if int(port) not in {p.get("containerPort") for p in main.get("ports") or []}:
            problems.append(f"{name}: container {main.get('name')} does not declare port {port}")
        args = " ".join(main.get("command", []) + main.get("args", []))
        if role == "worker" and not re.search(r"(--pool[= ]|-P ?)(solo|threads)\b", args):
            folder = env.get("PROMETHEUS_MULTIPROC_DIR")
            empty_dirs = {v.get("name") for v in spec.get("volumes") or [] if "emptyDir" in v}
            mounted = {
                m.get("mountPath")
                for m in main.get("volumeMounts") or []
                if m.get("name") in empty_dirs
            }
            if folder not in mounted:
                problems.append(
                    f"{name}: prefork worker without PROMETHEUS_MULTIPROC_DIR on an emptyDir "
                    "(its pool processes' metrics would not be served)"
                )


WEB = "web"  # the storefront (web/static_server.py): the `web` upstream of gateway/kong.yml
WEB_PORT = 8080


def _web_rules(objs: list[Obj], problems: list[str]) -> None:
    """The storefront like a service: a Deployment running the vanity/web image on 8080
    (WEB_HTTP_PORT) with a startup probe and liveness/readiness on /healthz, a Service
    exposing http 8080, an HPA and a PDB. Who may reach it (Kong only) and that it calls
    nobody is the network check's business (expected_connections)."""
    by_id = {ident(o): o for o in objs}
    dep = by_id.get(f"Deployment/{WEB}")
    if dep is None:
        problems.append(f"Deployment/{WEB}: missing (kong.yml routes the storefront to it)")
        return
    containers_ = ((pod_template(dep) or {}).get("spec") or {}).get("containers") or []
    main = next((c for c in containers_ if c.get("name") == WEB), None)
    if main is None:
        problems.append(f"Deployment/{WEB}: no container named {WEB}")
        return
    repository = re.split(r"[:@]", (main.get("image") or "").rsplit("/", 1)[-1])[0]
    if repository != WEB:
        problems.append(f"Deployment/{WEB}: image {main.get('image')!r} is not vanity/web")
    ports = {p.get("name"): p.get("containerPort") for p in main.get("ports") or []}
    if ports.get("http") != WEB_PORT:
        problems.append(f"Deployment/{WEB}: container port http is not {WEB_PORT}")
    env = {e["name"]: str(e.get("value")) for e in main.get("env") or []}
    if env.get("WEB_HTTP_PORT") != str(WEB_PORT):
        problems.append(f"Deployment/{WEB}: WEB_HTTP_PORT is not {WEB_PORT} (the server's port)")
    if env.get("WEB_HOST") != "0.0.0.0":
        problems.append(f"Deployment/{WEB}: WEB_HOST is not 0.0.0.0 (127.0.0.1 by default)")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if ((main.get(probe) or {}).get("httpGet") or {}).get("path") != "/healthz":
            problems.append(f"Deployment/{WEB}: {probe} is not GET /healthz")
    service = by_id.get(f"Service/{WEB}")
    sports = {
        p.get("name"): p.get("port") for p in (service or {}).get("spec", {}).get("ports") or []
    }
    if sports.get("http") != WEB_PORT:
        problems.append(f"Service/{WEB}: missing, or does not expose http {WEB_PORT}")
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if f"{kind}/{WEB}" not in by_id:
            problems.append(f"{kind}/{WEB}: missing")


GRPC_TLS_DIR = "/var/run/vanity/grpc-tls"


def check_grpc_tls(objs: list[Obj], problems: list[str]) -> None:
    """Internal gRPC is mutual TLS (docs/grpc.md): the settings point into GRPC_TLS_DIR, every
    API and worker pod mounts its own `<service>-grpc-tls` Secret there, and each service's
    GRPC_ALLOWED_CALLERS is exactly the services whose code calls it (grpc_call_graph)."""
    config = _find_data(objs, "ConfigMap", "vanity-config") or {}
    for key, file in (("CA", "ca.crt"), ("CERT", "tls.crt"), ("KEY", "tls.key")):
        if config.get(f"GRPC_TLS_{key}_FILE") != f"{GRPC_TLS_DIR}/{file}":
            problems.append(f"vanity-config: GRPC_TLS_{key}_FILE is not {GRPC_TLS_DIR}/{file}")
    graph = grpc_call_graph()
    by_id = {ident(o): o for o in objs}
    for svc in SERVICES:
        callers = sorted(c for c, peers in graph.items() if svc in peers)
        configured = config.get(f"{svc.upper()}_GRPC_ALLOWED_CALLERS", "")
        if sorted(filter(None, (c.strip() for c in configured.split(",")))) != callers:
            problems.append(
                f"vanity-config: {svc.upper()}_GRPC_ALLOWED_CALLERS is {configured!r}, "
                f"the code's callers are {','.join(callers)!r}"
            )
        for name in (svc, f"{svc}-worker"):
            workload = by_id.get(f"Deployment/{name}")
            if workload is None:
                continue
            spec = (pod_template(workload) or {}).get("spec") or {}
            volumes = {
                v.get("name"): (v.get("secret") or {}).get("secretName")
                for v in spec.get("volumes") or []
            }
            mounted = {
                volumes.get(m.get("name"))
                for m in spec["containers"][0].get("volumeMounts") or []
                if m.get("mountPath") == GRPC_TLS_DIR
            }
            if mounted != {f"{svc}-grpc-tls"}:
                problems.append(f"Deployment/{name}: does not mount Secret {svc}-grpc-tls")


def check_objects(objs: list[Obj], overlay: str) -> list[str]:
    """Every project rule on one rendered overlay; returns the problems."""
    problems: list[str] = []
    seen: set[str] = set()
    for obj in objs:
        key = f"{ident(obj)}@{(obj.get('metadata') or {}).get('namespace')}"
        if key in seen:
            problems.append(f"{ident(obj)}: defined twice")
        seen.add(key)
        if obj.get("kind") != "Namespace" and obj["metadata"].get("namespace") != "vanity":
            problems.append(f"{ident(obj)}: not in namespace vanity")
        if obj.get("kind") in WORKLOADS:
            _check_workload(obj, problems)
    _api_service_rules(objs, problems)
    _check_service_images(objs, problems)
    _check_placeholders(objs, problems)
    _check_services(objs, problems)
    _check_scalers(objs, problems)
    _check_references(objs, problems, overlay)
    _check_no_secrets(objs, problems, overlay)
    check_kong_config(objs, problems)
    _check_celery(objs, problems)
    _check_celery_metrics(objs, problems)
    _web_rules(objs, problems)
    _check_network(objs, problems)
    check_grpc_tls(objs, problems)
    return problems


def validate_schemas(objs: list[Obj], version: str = KUBE_VERSION) -> list[str]:
    import kubernetes_validate

    problems = []
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            problems.append(f"{ident(obj)}: schema: {exc.message} (at /{path})")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError):
            problems.append(
                f"{ident(obj)}: no Kubernetes {version} schema for {obj.get('apiVersion')}"
            )
    return problems


def ensure_prometheus_rules(
    source: Path = MONITORING_RULES, target: Path = PROMETHEUS_RULES
) -> str:
    """Copy the groups of every deploy/monitoring/rules/*.yaml into one rule file where the
    base's `prometheus-rules` configMapGenerator reads it (no groups when there is none yet)."""
    groups: list[Obj] = []
    files = sorted(source.glob("*.yaml")) if source.is_dir() else []
    for path in files:
        groups += (yaml.safe_load(path.read_text()) or {}).get("groups") or []
    text = (
        "# GENERATED by tools/check_k8s.py from deploy/monitoring/rules/*.yaml; do not edit\n"
        + yaml.safe_dump({"groups": groups}, sort_keys=False, allow_unicode=True, width=1000)
    )
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)
    return f"{len(groups)} rule group(s) from {len(files)} file(s)"


class RenderError(Exception):
    pass


@functools.cache
def kubectl() -> str:
    """The kubectl to render with: one whose kustomize is v5 or newer (`make kubectl`)."""
    exe = shutil.which("kubectl")
    if exe is None:
        raise RenderError("kubectl is not installed (make kubectl)")
    run = subprocess.run(
        [exe, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False
    )
    version = ""
    with contextlib.suppress(json.JSONDecodeError):
        version = json.loads(run.stdout).get("kustomizeVersion", "")
    major = re.match(r"v(\d+)\.", version)
    if not major or int(major.group(1)) < MIN_KUSTOMIZE_MAJOR:
        raise RenderError(
            f"{exe}: kustomize {version or 'unknown'}, v{MIN_KUSTOMIZE_MAJOR} or newer needed "
            "for components and replacements (make kubectl)"
        )
    return exe


def find(objs: list[Obj], kind: str, name: str) -> Obj:
    """The rendered object of that kind and name."""
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def render(overlay_dir: Path) -> list[Obj]:
    """The objects `kubectl kustomize` renders from one overlay."""
    run = subprocess.run(
        [kubectl(), "kustomize", str(overlay_dir)], capture_output=True, text=True, check=False
    )
    if run.returncode:
        raise RenderError(f"kubectl kustomize {overlay_dir.name}: {run.stderr.strip()}")
    return [o for o in yaml.safe_load_all(run.stdout) if o]


def check_tree(k8s_dir: Path = K8S, *, quiet: bool = True) -> list[str]:
    problems: list[str] = []
    if k8s_dir == K8S:
        ensure_prometheus_rules()
    for overlay in OVERLAYS:
        try:
            objs = render(k8s_dir / "overlays" / overlay)
        except (RenderError, yaml.YAMLError) as exc:
            problems.append(f"[{overlay}] render failed: {exc}")
            continue
        problems += [
            f"[{overlay}] {p}" for p in validate_schemas(objs) + check_objects(objs, overlay)
        ]
        if not quiet:
            kinds = Counter(o["kind"] for o in objs)
            summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            print(f"{overlay}: {len(objs)} objects ({summary})")
    return problems


def warnings(objs: list[Obj], root: Path = ROOT) -> list[str]:
    """Not a manifest's fault, but the pod would crash: a Celery app module that does not exist."""
    out = set()
    for obj in objs:
        for c in containers((pod_template(obj) or {}).get("spec") or {}):
            for svc in CELERY_APP.findall(" ".join(c.get("command", []) + c.get("args", []))):
                module = root / "services" / svc / "src" / f"vanity_{svc}" / "worker.py"
                if not module.is_file():
                    out.add(
                        f"{ident(obj)}: runs Celery app vanity_{svc}.worker, which does not exist"
                    )
    return sorted(out)


def main() -> int:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    ).parse_args()
    print(f"kong config: {k8s_kong_config.ensure()}")
    print(f"prometheus rules: {ensure_prometheus_rules()}")
    with contextlib.suppress(RenderError):
        for w in warnings(render(K8S / "overlays" / "production")):
            print(f"WARNING {w}", file=sys.stderr)
    problems = check_tree(quiet=False)
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    if problems:
        print(f"k8s-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"k8s-check: ok ({', '.join(OVERLAYS)}; schemas of Kubernetes {KUBE_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
