"""Load kong.yml (+ the local upstream map), validate it strictly, and build the runtime model."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from . import schema

EMPTY_UUID = "00000000-0000-0000-0000-000000000000"


class ConfigError(Exception):
    """The declarative config is invalid or uses something the stand-in does not implement."""

    def __init__(self, source: str, errors: list[str]):
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: invalid configuration:\n  " + "\n  ".join(errors))


@dataclass
class Service:
    id: str
    name: str
    protocol: str
    host: str
    port: int
    path: str
    retries: int
    connect_timeout: float  # seconds
    read_timeout: float
    write_timeout: float

    @property
    def base_url(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"


@dataclass
class Route:
    id: str
    name: str
    service: Service
    methods: frozenset[str] | None
    prefixes: list[str]
    regexes: list[re.Pattern]
    strip_path: bool
    preserve_host: bool
    regex_priority: int
    plugins: list[Any] = field(default_factory=list)  # plugin instances, highest priority first


@dataclass
class Consumer:
    id: str
    username: str | None
    custom_id: str | None
    groups: list[str]


@dataclass
class Credential:
    id: str
    key: str
    algorithm: str
    secret: str | None
    rsa_public_key: str | None
    consumer: Consumer
    public_key: Any = None  # parsed cryptography key (cached)


@dataclass
class GatewayConfig:
    source: str
    services: list[Service]
    routes: list[Route]
    consumers: list[Consumer]
    credentials: dict[str, Credential]
    global_plugins: list[Any]
    all_plugins: list[Any]

    @cached_property
    def global_plugins_by_priority(self) -> list[Any]:
        return sorted(self.global_plugins, key=lambda i: -i.priority)


def load_yaml(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_upstreams(path: str | Path | None) -> dict[str, str]:
    """The local upstream map: service name -> base URL (e.g. identity: http://127.0.0.1:8001)."""
    if not path:
        return {}
    data = load_yaml(path) or {}
    ups = data.get("upstreams", data) if isinstance(data, dict) else None
    if not isinstance(ups, dict):
        raise ConfigError(str(path), ["expected a mapping 'upstreams: {service: url}'"])
    errors = []
    for name, url in ups.items():
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append(f"upstreams.{name}: invalid url '{url}'")
    if errors:
        raise ConfigError(str(path), errors)
    return {str(k): str(v) for k, v in ups.items()}


def _stable_id(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def _service(s: dict, upstreams: dict[str, str], errors: list[str]) -> Service:
    name = s.get("name") or s.get("id") or "?"
    url = upstreams.get(name) or s.get("url")
    if url:
        parts = urlsplit(url)
        protocol = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if protocol == "https" else 80)
        path = parts.path or ""
    else:
        protocol, host = s.get("protocol", "http"), s["host"]
        port, path = s.get("port", 80), s.get("path") or ""
    if path not in ("", "/"):
        errors.append(
            f"services[{name}]: an upstream path prefix is not implemented by the stand-in"
        )
    return Service(
        id=s.get("id") or _stable_id("service", name),
        name=name,
        protocol=protocol,
        host=host,
        port=int(port),
        path=path,
        retries=s["retries"],
        connect_timeout=s["connect_timeout"] / 1000,
        read_timeout=s["read_timeout"] / 1000,
        write_timeout=s["write_timeout"] / 1000,
    )


def build(doc: Any, source: str, upstreams: dict[str, str] | None = None, **plugin_env: Any):
    """Validate `doc` and build a GatewayConfig. Raises ConfigError naming every problem."""
    from .plugins import create_plugin

    norm, errors = schema.check(doc)
    if errors:
        raise ConfigError(source, errors)
    upstreams = upstreams or {}
    errors = []

    consumers: list[Consumer] = []
    credentials: dict[str, Credential] = {}
    for c in norm["consumers"]:
        name = c.get("username") or c.get("custom_id")
        consumer = Consumer(
            id=c.get("id") or _stable_id("consumer", name),
            username=c.get("username"),
            custom_id=c.get("custom_id"),
            groups=[a["group"] for a in c["acls"]],
        )
        consumers.append(consumer)
        for j in c["jwt_secrets"]:
            credentials[j["key"]] = Credential(
                id=j.get("id") or _stable_id("jwt", j["key"]),
                key=j["key"],
                algorithm=j["algorithm"],
                secret=j.get("secret"),
                rsa_public_key=j.get("rsa_public_key"),
                consumer=consumer,
            )

    plugin_env["credentials_ref"] = credentials
    # jwt `anonymous`: a consumer id, else a username (kong.client.load_consumer)
    plugin_env["consumers_ref"] = {c.username: c for c in consumers if c.username} | {
        c.id: c for c in consumers
    }
    known = {s.get("name") for s in norm["services"]}
    for name in upstreams:
        if name not in known:
            errors.append(f"upstream map: no service named '{name}' in the config")

    all_plugins: list[Any] = []

    def instantiate(p: dict, scope_route: str | None, scope_service: str | None):
        inst = create_plugin(p, route_id=scope_route, service_id=scope_service, **plugin_env)
        all_plugins.append(inst)
        return inst

    top = [p for p in norm["plugins"] if p.get("enabled", True)]
    global_plugins = [
        instantiate(p, None, None) for p in top if not p.get("route") and not p.get("service")
    ]
    services: list[Service] = []
    routes: list[Route] = []
    for s in norm["services"]:
        if not s.get("enabled", True):
            continue
        svc = _service(s, upstreams, errors)
        services.append(svc)
        svc_plugins = [instantiate(p, None, svc.id) for p in s["plugins"] if p["enabled"]]
        svc_plugins += [
            instantiate(p, None, svc.id)
            for p in top
            if p.get("service")
            and p["service"] in (s.get("name"), s.get("id"))
            and not p.get("route")
        ]
        for r in s["routes"]:
            rname = r.get("name") or r.get("id") or f"{svc.name}-route-{len(routes)}"
            rid = r.get("id") or _stable_id("route", rname)
            prefixes, regexes = [], []
            for p in r.get("paths") or ["/"]:
                if p.startswith("~"):
                    regexes.append(re.compile(p[1:]))
                else:
                    prefixes.append(p)
            route = Route(
                id=rid,
                name=rname,
                service=svc,
                methods=frozenset(r["methods"]) if r.get("methods") else None,
                prefixes=prefixes,
                regexes=regexes,
                strip_path=r["strip_path"],
                preserve_host=r["preserve_host"],
                regex_priority=r["regex_priority"],
            )
            route_plugins = [instantiate(p, rid, None) for p in r["plugins"] if p["enabled"]]
            route_plugins += [
                instantiate(p, rid, None)
                for p in top
                if p.get("route") and p["route"] in (r.get("name"), r.get("id"))
            ]
            # the most specific instance of each plugin wins (route > service > global)
            chosen: dict[str, Any] = {}
            for layer in (global_plugins, svc_plugins, route_plugins):
                for inst in layer:
                    chosen[inst.name] = inst
            route.plugins = sorted(chosen.values(), key=lambda i: -i.priority)
            routes.append(route)
    if errors:
        raise ConfigError(source, errors)
    return GatewayConfig(
        source=source,
        services=services,
        routes=routes,
        consumers=consumers,
        credentials=credentials,
        global_plugins=global_plugins,
        all_plugins=all_plugins,
    )


def load(config_path: str | Path, upstreams_path: str | Path | None = None, **plugin_env: Any):
    doc = load_yaml(config_path)
    return build(doc, str(config_path), load_upstreams(upstreams_path), **plugin_env)


def default_paths() -> tuple[str, str | None]:
    root = Path(__file__).resolve().parents[3]
    cfg = os.environ.get("GATEWAY_CONFIG") or str(root / ".data" / "gateway" / "kong.yml")
    ups = os.environ.get("GATEWAY_UPSTREAMS")
    if ups is None:
        ups = str(root / "gateway" / "upstreams.local.yml")
    return cfg, ups or None
