"""The small subset of kustomize that deploy/k8s uses, in Python, so CI needs no kubectl.

Supported kustomization fields: resources (files and directories), namespace, labels (pairs,
includeSelectors, includeTemplates), commonLabels, images, configMapGenerator and
secretGenerator (literals, files, envs; behavior create/merge/replace; name hash suffix as
kustomize computes it), generatorOptions.disableNameSuffixHash, and patches (JSON 6902 lists or
strategic-merge documents, from `path` or inline `patch`, with a target by kind, name, namespace
or labelSelector). Names of generated ConfigMaps and Secrets are rewritten where pods refer to
them. Anything else in a kustomization is refused, so the subset cannot silently drift from what
`kubectl kustomize` builds (tests/deploy compares the two when kubectl is installed).
Load restrictions are kustomize's default: no file outside the kustomization root.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]
KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "commonLabels",
    "images",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "patches",
}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}
TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class KustomizeError(Exception):
    pass


def load_yaml_docs(path: Path) -> list[Obj]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise KustomizeError(
            f"{path}: outside the kustomization root {root} (kustomize's load restrictor)"
        )
    return resolved


# ---- generators -----------------------------------------------------------------------------


def _go_json(value: Any) -> str:
    """json.Marshal of Go: sorted keys, no spaces, HTML characters escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _encode_hash(hexdigest: str) -> str:
    table = str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"})
    return hexdigest[:10].translate(table)


def name_hash(obj: Obj) -> str:
    """kustomize's hash suffix of a ConfigMap or Secret (api/hasher). kustomize looks the name
    up as one field called "metadata/name", finds none and so hashes an empty name: done alike
    here, or the suffixes would differ from `kubectl kustomize`."""
    m: dict[str, Any] = {"kind": obj["kind"], "name": "", "data": obj.get("data") or ""}
    if obj["kind"] == "ConfigMap" and isinstance(obj.get("binaryData"), dict):
        m["binaryData"] = obj["binaryData"]
    if obj["kind"] == "Secret":
        m["type"] = obj.get("type", "")
        if isinstance(obj.get("stringData"), dict):
            m["stringData"] = obj["stringData"]
    return _encode_hash(hashlib.sha256(_go_json(m).encode()).hexdigest())


def _parse_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def _generator_data(root: Path, spec: Obj) -> dict[str, str]:
    data: dict[str, str] = {}
    for path in spec.get("envs") or []:
        data.update(_parse_env_file(_inside(root, root / path)))
    for literal in spec.get("literals") or []:
        key, sep, value = literal.partition("=")
        if not sep:
            raise KustomizeError(f"literal {literal!r} is not KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        data[key] = value
    for entry in spec.get("files") or []:
        key, sep, path = entry.partition("=")
        if not sep:
            key, path = Path(entry).name, entry
        data[key] = _inside(root, root / path).read_text(encoding="utf-8")
    return data


def _base64(value: str) -> str:
    """kustomize's encoding: lines of 70 characters, each ending in a newline, when longer."""
    enc = base64.b64encode(value.encode()).decode()
    if len(enc) // 70 == 0:
        return enc
    return "".join(enc[i : i + 70] + "\n" for i in range(0, len(enc), 70))


def _generate(root: Path, spec: Obj, kind: str, options: Obj) -> tuple[Obj, str, bool]:
    data = _generator_data(root, spec)
    obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": spec["name"]}}
    if spec.get("namespace"):
        obj["metadata"]["namespace"] = spec["namespace"]
    if kind == "Secret":
        obj["type"] = spec.get("type", "Opaque")
        obj["data"] = {k: _base64(v) for k, v in data.items()}
    else:
        obj["data"] = data
    opts = {**options, **(spec.get("options") or {})}
    for field in ("labels", "annotations"):
        if opts.get(field):
            obj["metadata"][field] = dict(opts[field])
    hashed = not opts.get("disableNameSuffixHash", False)
    return obj, spec.get("behavior", "create"), hashed


# ---- patches --------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise KustomizeError(f"JSON pointer {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def apply_json6902(doc: Obj, ops: list[Obj]) -> Obj:
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(op["path"])
        try:
            parent = _walk(doc, parts[:-1])
            last = parts[-1]
            kind = op["op"]
            if kind in ("add", "replace"):
                value = copy.deepcopy(op["value"])
                if isinstance(parent, list):
                    idx = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(idx, value)
                    else:
                        parent[idx] = value
                else:
                    if kind == "replace" and last not in parent:
                        raise KustomizeError(f"replace: {op['path']} does not exist")
                    parent[last] = value
            elif kind == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            else:
                raise KustomizeError(f"JSON patch op {kind!r} is not supported here")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise KustomizeError(f"JSON patch {op}: path not found ({exc})") from exc
    return doc


def strategic_merge(base: Any, patch: Any) -> Any:
    """Strategic merge for the shapes used here: maps merge, lists of named maps merge by name,
    other lists are replaced, `null` deletes, `$patch: delete` removes a named list item."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in base + patch)
    ):
        out = [dict(i) for i in base]
        for item in patch:
            idx = next((n for n, b in enumerate(out) if b["name"] == item["name"]), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    out.pop(idx)
            elif idx is None:
                out.append(copy.deepcopy(item))
            else:
                out[idx] = strategic_merge(out[idx], item)
        return out
    return copy.deepcopy(patch)


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.strip()) != value.strip().lstrip("="):
                return False
        elif term not in labels:
            return False
    return True


def _target_matches(target: Obj, obj: Obj) -> bool:
    meta = obj.get("metadata", {})
    for field, actual in (
        ("kind", obj.get("kind")),
        ("name", meta.get("name")),
        ("namespace", meta.get("namespace")),
    ):
        if field in target and not re.fullmatch(target[field], actual or ""):
            return False
    if "labelSelector" in target:
        return _selector_matches(target["labelSelector"], meta.get("labels") or {})
    return True


def _apply_patch(root: Path, entry: Obj, objs: list[Obj]) -> None:
    if "path" in entry:
        text = _inside(root, root / entry["path"]).read_text(encoding="utf-8")
    elif "patch" in entry:
        text = entry["patch"]
    else:
        raise KustomizeError(f"patch without path or patch: {entry}")
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    target = entry.get("target")
    if len(docs) == 1 and isinstance(docs[0], list):  # JSON 6902
        if not target:
            raise KustomizeError("a JSON 6902 patch needs a target")
        hits = [i for i, o in enumerate(objs) if _target_matches(target, o)]
        if not hits:
            raise KustomizeError(f"patch target {target} matches nothing")
        for i in hits:
            objs[i] = apply_json6902(objs[i], docs[0])
        return
    for doc in docs:  # strategic merge
        tgt = target or {"kind": doc["kind"], "name": doc["metadata"]["name"]}
        hits = [i for i, o in enumerate(objs) if _target_matches(tgt, o)]
        if not hits:
            raise KustomizeError(f"patch target {tgt} matches nothing")
        for i in hits:
            patch = copy.deepcopy(doc)
            if target:  # a patch aimed by target keeps each object's own identity
                patch.pop("metadata", None)
            objs[i] = strategic_merge(objs[i], patch)


# ---- transformers ---------------------------------------------------------------------------


def _templates(obj: Obj) -> list[Obj]:
    spec = obj.get("spec") or {}
    if obj.get("kind") in TEMPLATE_KINDS and "template" in spec:
        return [spec["template"]]
    if obj.get("kind") == "CronJob":
        return [spec.get("jobTemplate", {}).get("spec", {}).get("template", {})]
    return []


def _add_labels(objs: list[Obj], pairs: dict[str, str], selectors: bool, templates: bool) -> None:
    for obj in objs:
        obj.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if selectors or templates:
            for tpl in _templates(obj):
                tpl.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
            for claim in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
                claim.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        if selectors:
            spec = obj.get("spec") or {}
            if obj["kind"] == "Service":
                spec.setdefault("selector", {}).update(pairs)
            elif obj["kind"] in TEMPLATE_KINDS:
                spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(pairs)


def _pod_specs(obj: Obj) -> list[Obj]:
    return [t.get("spec", {}) for t in _templates(obj) if t]


def _containers(pod: Obj) -> list[Obj]:
    return list(pod.get("initContainers") or []) + list(pod.get("containers") or [])


def _set_images(objs: list[Obj], images: list[Obj]) -> None:
    for obj in objs:
        for pod in _pod_specs(obj):
            for c in _containers(pod):
                ref = c.get("image", "")
                name, digest = ref.split("@", 1) if "@" in ref else (ref, None)
                tag = None
                if ":" in name.rsplit("/", 1)[-1]:
                    name, tag = name.rsplit(":", 1)
                for img in images:
                    if img["name"] != name:
                        continue
                    new_name = img.get("newName", name)
                    if img.get("digest"):
                        c["image"] = f"{new_name}@{img['digest']}"
                    elif img.get("newTag"):
                        c["image"] = f"{new_name}:{img['newTag']}"
                    elif digest:
                        c["image"] = f"{new_name}@{digest}"
                    else:
                        c["image"] = f"{new_name}:{tag}" if tag else new_name


def _rename_refs(objs: list[Obj], kind: str, old: str, new: str) -> None:
    """Generated names (with hash) where pods refer to a ConfigMap or Secret."""
    key = "configMapRef" if kind == "ConfigMap" else "secretRef"
    key_ref = "configMapKeyRef" if kind == "ConfigMap" else "secretKeyRef"
    for obj in objs:
        for pod in _pod_specs(obj):
            for vol in pod.get("volumes") or []:
                if kind == "ConfigMap" and (vol.get("configMap") or {}).get("name") == old:
                    vol["configMap"]["name"] = new
                if kind == "Secret" and (vol.get("secret") or {}).get("secretName") == old:
                    vol["secret"]["secretName"] = new
                for src in (vol.get("projected") or {}).get("sources") or []:
                    ref = src.get("configMap" if kind == "ConfigMap" else "secret") or {}
                    if ref.get("name") == old:
                        ref["name"] = new
            for c in _containers(pod):
                for ef in c.get("envFrom") or []:
                    if (ef.get(key) or {}).get("name") == old:
                        ef[key]["name"] = new
                for env in c.get("env") or []:
                    ref = (env.get("valueFrom") or {}).get(key_ref) or {}
                    if ref.get("name") == old:
                        ref["name"] = new
            for secret in pod.get("imagePullSecrets") or []:
                if kind == "Secret" and secret.get("name") == old:
                    secret["name"] = new


# ---- build ----------------------------------------------------------------------------------


def _kustomization(path: Path) -> tuple[Path, Obj]:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (path / name).is_file():
            with (path / name).open(encoding="utf-8") as fh:
                k = yaml.safe_load(fh) or {}
            unknown = set(k) - KNOWN_FIELDS
            if unknown:
                raise KustomizeError(f"{path / name}: unsupported fields {sorted(unknown)}")
            return path, k
    raise KustomizeError(f"{path}: no kustomization.yaml")


def _build(path: Path) -> tuple[list[Obj], list[tuple[str, str, Obj]]]:
    """Objects plus the generated ones still to be named: (kind, base name, object)."""
    root, k = _kustomization(path)
    objs: list[Obj] = []
    generated: list[tuple[str, str, Obj]] = []
    for res in k.get("resources") or []:
        target = root / res
        if target.is_dir():
            sub_objs, sub_gen = _build(target)
            objs += sub_objs
            generated += sub_gen
        else:
            objs += load_yaml_docs(_inside(root, target))
    options = k.get("generatorOptions") or {}
    for field, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for spec in k.get(field) or []:
            new, behavior, hashed = _generate(root, spec, kind, options)
            name = spec["name"]
            existing = next((g for g in generated if g[0] == kind and g[1] == name), None)
            if behavior == "create":
                if existing:
                    raise KustomizeError(f"{kind} {name} generated twice (use behavior: merge)")
                new["_hashed"] = hashed
                generated.append((kind, name, new))
                objs.append(new)
            elif existing is None:
                raise KustomizeError(f"{kind} {name}: behavior {behavior} but no base generator")
            elif behavior == "merge":
                existing[2]["data"] = {**(existing[2].get("data") or {}), **new["data"]}
            elif behavior == "replace":
                existing[2]["data"] = new["data"]
            else:
                raise KustomizeError(f"{kind} {name}: unknown behavior {behavior}")
    for entry in k.get("patches") or []:
        _apply_patch(root, entry, objs)
    if k.get("images"):
        _set_images(objs, k["images"])
    if k.get("commonLabels"):
        _add_labels(objs, k["commonLabels"], selectors=True, templates=True)
    for spec in k.get("labels") or []:
        _add_labels(
            objs,
            spec.get("pairs") or {},
            selectors=spec.get("includeSelectors", False),
            templates=spec.get("includeTemplates", False),
        )
    if k.get("namespace"):
        for obj in objs:
            if obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = k["namespace"]
    return objs, generated


def build(path: str | Path) -> list[Obj]:
    """Renders the kustomization in `path` like `kubectl kustomize path`."""
    objs, generated = _build(Path(path))
    for kind, name, obj in generated:
        if obj.pop("_hashed", True):
            new = f"{name}-{name_hash(obj)}"
            obj["metadata"]["name"] = new
            _rename_refs(objs, kind, name, new)
    return objs
