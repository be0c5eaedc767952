"""Offline validation of deploy/k8s (`make k8s-check`).

1. Makes sure the base's generated Kong config exists (tools/k8s_kong_config.py: a copy of
   gateway/kong.yml, or a placeholder before it exists; a rendered config is kept).
2. Renders every overlay with tools/kustomize_lite.py (the kustomize subset the tree uses) and,
   when kubectl is installed (unless --no-kubectl), also with `kubectl kustomize`: the two
   outputs must be identical.
3. Validates every object against the Kubernetes JSON schemas (kubernetes-validate, strict:
   unknown fields are errors) for KUBE_VERSION, without a cluster.
4. Checks the project's rules (see `check_objects`).

Exits 1 naming every problem, 0 when there is none.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kustomize_lite
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
KUBE_VERSION = "1.31.0"
SERVICES = ("identity", "catalog", "inventory", "cart", "checkout", "payments")
DEV_SECRET_MARKER = "dev-insecure"  # vanity_common.settings.DEV_SECRET_MARKER
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
SECRETISH = re.compile(
    r"(PASSWORD|PASSWD|SECRET|SECRET_KEY|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)$", re.I
)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:([^@\s/]+)@", re.I)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
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
        ports = {p.get("name"): p.get("containerPort") for p in main.get("ports") or []}
        if ports.get("http") != 8080 or ports.get("grpc") != 50051:
            problems.append(f"Deployment/{svc}: container ports are not http 8080 + grpc 50051")
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
            operator_made = kind == "Secret" and (overlay != "dev" or name == "identity-keys")
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
    _check_services(objs, problems)
    _check_scalers(objs, problems)
    _check_references(objs, problems, overlay)
    _check_no_secrets(objs, problems, overlay)
    check_kong_config(objs, problems)
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


def kubectl_differences(overlay_dir: Path, objs: list[Obj]) -> list[str]:
    """Compares kustomize_lite's rendering with `kubectl kustomize` (same objects, same content)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return []
    run = subprocess.run(
        [kubectl, "kustomize", str(overlay_dir)], capture_output=True, text=True, check=False
    )
    if run.returncode:
        return [f"kubectl kustomize {overlay_dir.name}: {run.stderr.strip()}"]
    theirs = {ident(o): o for o in yaml.safe_load_all(run.stdout) if o}
    mine = {ident(o): o for o in objs}
    out = [f"{k}: only kubectl kustomize renders it" for k in sorted(set(theirs) - set(mine))]
    out += [f"{k}: only kustomize_lite renders it" for k in sorted(set(mine) - set(theirs))]
    out += [
        f"{k}: kustomize_lite and kubectl kustomize differ"
        for k in sorted(set(mine) & set(theirs))
        if mine[k] != theirs[k]
    ]
    return out


def check_tree(k8s_dir: Path = K8S, *, with_kubectl: bool = False, quiet: bool = True) -> list[str]:
    problems: list[str] = []
    for overlay in OVERLAYS:
        path = k8s_dir / "overlays" / overlay
        try:
            objs = kustomize_lite.build(path)
        except (kustomize_lite.KustomizeError, OSError, yaml.YAMLError, KeyError) as exc:
            problems.append(f"[{overlay}] render failed: {exc}")
            continue
        found = validate_schemas(objs) + check_objects(objs, overlay)
        if with_kubectl:
            found += kubectl_differences(path, objs)
        problems += [f"[{overlay}] {p}" for p in found]
        if not quiet:
            kinds: dict[str, int] = {}
            for o in objs:
                kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            print(f"{overlay}: {len(objs)} objects ({summary})")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--no-kubectl",
        action="store_true",
        help="do not compare with `kubectl kustomize` (compared by default when installed)",
    )
    args = ap.parse_args(argv)
    import k8s_kong_config

    print(f"kong config: {k8s_kong_config.ensure()}")
    with_kubectl = not args.no_kubectl and shutil.which("kubectl") is not None
    print(f"kubectl kustomize comparison: {'on' if with_kubectl else 'off (kubectl not used)'}")
    problems = check_tree(with_kubectl=with_kubectl, quiet=False)
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    if problems:
        print(f"k8s-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"k8s-check: ok ({', '.join(OVERLAYS)}; schemas of Kubernetes {KUBE_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
