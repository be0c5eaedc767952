"""Strict checker for the declarative Kong file (what Debian's old `deck validate` does not catch).

Entities and plugin configs are checked against the part of Kong 3.x's schemas
(`kong/db/schema/entities/*.lua`, `kong/plugins/*/schema.lua`) that the stand-in implements —
which covers everything gateway/kong.yml uses. Any other key, whether misspelt or a Kong field
the stand-in does not implement, is refused rather than ignored; so are unknown plugins, bad
references and values out of range, each reported with the path of the offending value.

`check(doc)` returns `(normalized_doc, errors)`; the normalized document has every plugin config
and entity filled with Kong's defaults.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

MISSING = object()

HTTP_METHODS = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS", "TRACE", "CONNECT"]


@dataclass
class F:
    """One schema field."""

    type: str  # string, integer, number, boolean, array, set, record
    default: Any = MISSING
    required: bool = False
    one_of: list[Any] | None = None
    between: tuple[float, float] | None = None
    gt: float | None = None
    len_min: int | None = None
    match: str | None = None
    elements: F | None = None
    fields: dict[str, F] | None = None
    validator: Any = None  # callable(value) -> error message or None


def _str(**kw: Any) -> F:
    return F("string", **kw)


def _bool(default: bool, **kw: Any) -> F:
    return F("boolean", default=default, required=True, **kw)


def _strset(default: Any = MISSING, **kw: Any) -> F:
    return F("set", default=default, elements=F("string"), **kw)


def _strarr(default: Any = MISSING, **kw: Any) -> F:
    return F("array", default=default, elements=F("string"), **kw)


# ---------------------------------------------------------------------------------------------
# validators


def _is_regex(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"'{value}' is not a valid regex ({exc})"
    return None


def _cors_origin(value: str) -> str | None:
    if value == "*":
        return None
    return _is_regex(value)


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def _header_name(value: str) -> str | None:
    if not _HEADER_NAME.match(value):
        return f"'{value}' is not a valid header"
    return None


def _colon_pair(value: str) -> str | None:
    m = re.match(r"^([^:]+):.*$", value, re.S)
    if not m:
        return f"'{value}' should be of the form 'name:value'"
    return _header_name(m.group(1))


# ---------------------------------------------------------------------------------------------
# Redis (kong/tools/redis/schema.lua)

REDIS = F(
    "record",
    fields={
        "host": _str(),
        "port": F("integer", default=6379, between=(0, 65535)),
        "timeout": F("integer", default=2000, between=(0, 2**31 - 2)),
        "username": _str(),
        "password": _str(len_min=0),
        "database": F("integer", default=0, between=(0, 15)),
    },
)

# ---------------------------------------------------------------------------------------------
# Plugins: Kong's priority and config schema. Only these are implemented by the stand-in.


def _headers_record(element: F) -> F:
    """A transformer operation ({headers: [...]}): only the header operations are implemented."""
    return F("record", default={}, fields={"headers": F("array", default=[], elements=element)})


RESPONSE_TRANSFORMER = F(
    "record",
    fields={
        "remove": _headers_record(F("string")),
        "replace": _headers_record(F("string", validator=_colon_pair)),
        "add": _headers_record(F("string", validator=_colon_pair)),
        "append": _headers_record(F("string", validator=_colon_pair)),
    },
)
REQUEST_TRANSFORMER = F(
    "record", fields={"remove": _headers_record(F("string", validator=_header_name))}
)


def _period() -> F:
    return F("number", gt=0)


PLUGINS: dict[str, tuple[int, F]] = {
    "correlation-id": (
        100001,
        F(
            "record",
            fields={
                "header_name": _str(default="Kong-Request-ID", validator=_header_name),
                "generator": _str(
                    default="uuid#counter",
                    required=True,
                    one_of=["uuid", "uuid#counter", "tracker"],
                ),
                "echo_downstream": _bool(False),
            },
        ),
    ),
    "cors": (
        2000,
        F(
            "record",
            fields={
                "origins": F("array", elements=F("string", validator=_cors_origin)),
                "headers": _strarr(),
                "exposed_headers": _strarr(),
                "methods": F(
                    "array",
                    default=list(HTTP_METHODS),
                    elements=F("string", one_of=HTTP_METHODS),
                ),
                "max_age": F("number"),
                "credentials": _bool(False),
                "private_network": _bool(False),
                "preflight_continue": _bool(False),
                "allow_origin_absent": _bool(True),
            },
        ),
    ),
    "jwt": (
        1450,
        F(
            "record",
            fields={
                "uri_param_names": _strset(default=["jwt"]),
                "cookie_names": _strset(default=[]),
                "key_claim_name": _str(default="iss"),
                "secret_is_base64": _bool(False),
                "claims_to_verify": F("set", elements=F("string", one_of=["exp", "nbf"])),
                "anonymous": _str(),  # a consumer id or username (checked in check())
                "run_on_preflight": _bool(True),
                "maximum_expiration": F("number", default=0, between=(0, 31536000)),
                "header_names": _strset(default=["authorization"]),
                "realm": _str(),
            },
        ),
    ),
    "request-size-limiting": (
        951,
        F(
            "record",
            fields={
                "allowed_payload_size": F("integer", default=128, gt=0),
                "size_unit": _str(
                    default="megabytes", required=True, one_of=["megabytes", "kilobytes", "bytes"]
                ),
                "require_content_length": _bool(False),
            },
        ),
    ),
    "acl": (
        950,
        F(
            "record",
            fields={
                "allow": _strarr(),
                "deny": _strarr(),
                "hide_groups_header": _bool(False),
            },
        ),
    ),
    "rate-limiting": (
        910,
        F(
            "record",
            fields={
                "second": _period(),
                "minute": _period(),
                "hour": _period(),
                "day": _period(),
                "month": _period(),
                "year": _period(),
                "limit_by": _str(
                    default="consumer",
                    one_of=["consumer", "credential", "ip", "service", "header", "path"],
                ),
                "header_name": _str(validator=_header_name),
                "path": _str(match=r"^/"),
                "policy": _str(default="local", one_of=["local", "redis"]),
                "fault_tolerant": _bool(True),
                "redis": REDIS,
                "hide_client_headers": _bool(False),
                "error_code": F("number", default=429, gt=0),
                "error_message": _str(default="API rate limit exceeded"),
            },
        ),
    ),
    "request-transformer": (801, REQUEST_TRANSFORMER),
    "response-transformer": (800, RESPONSE_TRANSFORMER),
    "prometheus": (
        13,
        F(
            "record",
            fields={
                "per_consumer": F("boolean", default=False),
                "status_code_metrics": F("boolean", default=False),
                "latency_metrics": F("boolean", default=False),
                "bandwidth_metrics": F("boolean", default=False),
            },
        ),
    ),
}

PLUGIN_ENTITY = {
    "name": F("string", required=True),
    "id": F("string"),
    "instance_name": F("string"),
    "config": F("record"),
    "enabled": F("boolean", default=True),
    "tags": _strset(),
    "route": F("string"),
    "service": F("string"),
}

ROUTE_ENTITY = {
    "id": _str(),
    "name": _str(),
    "methods": F("set", elements=F("string", match=r"^[A-Z]+$")),
    "paths": F("array", elements=F("string", match=r"^[/~]")),
    "regex_priority": F("integer", default=0),
    "strip_path": F("boolean", default=True),
    "preserve_host": F("boolean", default=False),
    "tags": _strset(),
    "plugins": F("array"),
}

_TIMEOUT = (1, 2**31 - 2)
SERVICE_ENTITY = {
    "id": _str(),
    "name": _str(),
    "url": _str(),
    "protocol": _str(default="http", one_of=["http", "https"]),
    "host": _str(),
    "port": F("integer", default=80, between=(0, 65535)),
    "path": _str(match=r"^/"),
    "retries": F("integer", default=5, between=(0, 32767)),
    "connect_timeout": F("integer", default=60000, between=_TIMEOUT),
    "write_timeout": F("integer", default=60000, between=_TIMEOUT),
    "read_timeout": F("integer", default=60000, between=_TIMEOUT),
    "tags": _strset(),
    "enabled": F("boolean", default=True),
    "routes": F("array"),
    "plugins": F("array"),
}

CONSUMER_ENTITY = {
    "id": _str(),
    "username": _str(),
    "custom_id": _str(),
    "tags": _strset(),
    "jwt_secrets": F("array"),
    "acls": F("array"),
}

# Kong also knows PS256/384/512 and EdDSA; the stand-in verifies these
JWT_ALGORITHMS = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
]  # fmt: skip

JWT_SECRET_ENTITY = {
    "id": _str(),
    "key": _str(),
    "algorithm": _str(default="HS256", one_of=JWT_ALGORITHMS),
    "secret": _str(),
    "rsa_public_key": _str(),
    "tags": _strset(),
    "consumer": _str(),
}

ACL_ENTITY = {
    "id": _str(),
    "group": F("string", required=True),
    "tags": _strset(),
    "consumer": _str(),
}

TOP_LEVEL = {
    "_format_version": F("string", required=True, one_of=["3.0"]),
    "_transform": F("boolean", default=True),
    "_comment": F("string"),
    "services": F("array"),
    "consumers": F("array"),
    "plugins": F("array"),
}


# ---------------------------------------------------------------------------------------------


class Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, path: str, msg: str) -> None:
        self.errors.append(f"{path}: {msg}")

    # value checking -----------------------------------------------------------------------
    def value(self, path: str, spec: F, value: Any) -> Any:
        t = spec.type
        if t == "record":
            if not isinstance(value, dict):
                self.err(path, "expected a record (mapping)")
                return value
            if spec.fields is None:
                return value
            return self.record(path, spec.fields, value)
        if t in ("array", "set"):
            if not isinstance(value, list):
                self.err(path, f"expected an {t} (list)")
                return value
            if spec.elements is not None:
                value = [self.value(f"{path}[{i}]", spec.elements, v) for i, v in enumerate(value)]
                if t == "set":
                    seen: list[Any] = []
                    for v in value:
                        if v not in seen:
                            seen.append(v)
                    value = seen
            return value
        if t == "string":
            if not isinstance(value, str):
                self.err(path, "expected a string")
                return value
            if spec.len_min is None and value == "":
                self.err(path, "length must be at least 1")
            if spec.match and not re.match(spec.match, value):
                self.err(path, f"invalid value '{value}' (must match {spec.match})")
        elif t == "boolean":
            if not isinstance(value, bool):
                self.err(path, "expected a boolean")
                return value
        elif t in ("integer", "number"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.err(path, f"expected {'an integer' if t == 'integer' else 'a number'}")
                return value
            if t == "integer" and not float(value).is_integer():
                self.err(path, "expected an integer")
            if spec.between and not (spec.between[0] <= value <= spec.between[1]):
                self.err(path, f"value should be between {spec.between[0]} and {spec.between[1]}")
            if spec.gt is not None and not value > spec.gt:
                self.err(path, f"value must be greater than {spec.gt}")
        if spec.one_of is not None and value not in spec.one_of:
            self.err(path, f"expected one of: {', '.join(map(str, spec.one_of))}")
        if spec.validator is not None:
            msg = spec.validator(value)
            if msg:
                self.err(path, msg)
        return value

    def record(
        self, path: str, fields: dict[str, F], value: dict, skip: tuple[str, ...] = ()
    ) -> dict:
        out: dict[str, Any] = {}
        for key, v in value.items():
            if key in skip:
                out[key] = v
                continue
            spec = fields.get(key)
            if spec is None:
                self.err(f"{path}.{key}", "unknown field (or not implemented by the stand-in)")
                continue
            if v is None:  # explicit null: same as absent
                continue
            out[key] = self.value(f"{path}.{key}", spec, v)
        for key, spec in fields.items():
            if key in out or key in skip:
                continue
            if spec.default is not MISSING:
                out[key] = copy.deepcopy(spec.default)
                if spec.type == "record" and spec.fields:
                    out[key] = self.record(f"{path}.{key}", spec.fields, out[key])
            elif spec.type == "record" and spec.fields and key in ("redis",):
                out[key] = self.record(f"{path}.{key}", spec.fields, {})
            elif spec.required:
                self.err(f"{path}.{key}", "required field missing")
        return out


def _label(kind: str, ent: Any, idx: int) -> str:
    if isinstance(ent, dict):
        name = ent.get("name") or ent.get("username") or ent.get("key") or ent.get("group")
        if name:
            return f"{kind}[{name}]"
    return f"{kind}[{idx}]"


def _check_plugin(c: Checker, path: str, plugin: Any) -> dict | None:
    if not isinstance(plugin, dict):
        c.err(path, "expected a plugin record")
        return None
    name = plugin.get("name")
    if not isinstance(name, str):
        c.err(f"{path}.name", "required field missing")
        return None
    path = f"{path.rsplit('[', 1)[0]}[{name}]"
    if name not in PLUGINS:
        c.err(path, f"unknown plugin '{name}' (the stand-in implements {', '.join(PLUGINS)})")
        return None
    out = c.record(path, PLUGIN_ENTITY, plugin, skip=("config",))
    priority, schema = PLUGINS[name]
    config = plugin.get("config") or {}
    if not isinstance(config, dict):
        c.err(f"{path}.config", "expected a record")
        return None
    assert schema.fields is not None
    out["config"] = c.record(f"{path}.config", schema.fields, config)
    _plugin_entity_checks(c, f"{path}.config", name, out["config"])
    out["_priority"] = priority
    return out


def _plugin_entity_checks(c: Checker, path: str, name: str, conf: dict) -> None:
    if name == "jwt":
        if conf.get("maximum_expiration", 0) > 0 and "exp" not in (
            conf.get("claims_to_verify") or []
        ):
            c.err(f"{path}.claims_to_verify", "must contain 'exp' when maximum_expiration > 0")
    elif name == "acl":
        has_allow = bool(conf.get("allow"))
        has_deny = bool(conf.get("deny"))
        if has_allow and has_deny:
            c.err(path, "only one of these fields must be non-empty: 'allow', 'deny'")
        if not has_allow and not has_deny:
            c.err(path, "at least one of these fields must be non-empty: 'allow', 'deny'")
    elif name == "rate-limiting":
        periods = ["second", "minute", "hour", "day", "month", "year"]
        if not any(conf.get(p) is not None for p in periods):
            c.err(path, "at least one of these fields must be non-empty: " + ", ".join(periods))
        for i, lower in enumerate(periods):
            v1 = conf.get(lower)
            if v1 is None:
                continue
            for upper in periods[i + 1 :]:
                v2 = conf.get(upper)
                if v2 is not None and v2 < v1:
                    c.err(path, f"The limit for {upper}({v2}) cannot be lower than the limit "
                          f"for {lower}({v1})")  # fmt: skip
        if conf.get("policy") == "redis" and not (conf.get("redis") or {}).get("host"):
            c.err(f"{path}.redis.host", "required when policy is 'redis'")
        if conf.get("limit_by") == "header" and not conf.get("header_name"):
            c.err(f"{path}.header_name", "required when limit_by is 'header'")
        if conf.get("limit_by") == "path" and not conf.get("path"):
            c.err(f"{path}.path", "required when limit_by is 'path'")


def check(doc: Any) -> tuple[dict, list[str]]:
    """Validate a parsed kong.yml. Returns (normalized document, errors)."""
    c = Checker()
    if not isinstance(doc, dict):
        return {}, ["document: expected a mapping at top level"]
    top = c.record("", TOP_LEVEL, doc, skip=("services", "consumers", "plugins"))
    services_out: list[dict] = []
    service_names: dict[str, dict] = {}
    route_names: dict[str, dict] = {}
    for si, svc in enumerate(doc.get("services") or []):
        spath = _label("services", svc, si)
        if not isinstance(svc, dict):
            c.err(spath, "expected a service record")
            continue
        s = c.record(spath, SERVICE_ENTITY, svc, skip=("routes", "plugins"))
        if "url" in svc and any(k in svc for k in ("host", "port", "protocol", "path")):
            c.err(spath, "'url' cannot be combined with protocol/host/port/path")
        if "url" not in s and "host" not in s:
            c.err(spath, "one of 'url' or 'host' is required")
        if "url" in s and isinstance(s["url"], str):
            m = re.match(r"^(https?)://([^/:]+)(?::(\d+))?(/.*)?$", s["url"])
            if not m:
                c.err(f"{spath}.url", f"invalid url '{s['url']}'")
        for ident in ("name", "id"):
            if s.get(ident):
                if s[ident] in service_names:
                    c.err(spath, f"duplicate service {ident} '{s[ident]}'")
                service_names[s[ident]] = s
        s["routes"] = []
        for ri, route in enumerate(svc.get("routes") or []):
            rpath = f"{spath}.{_label('routes', route, ri)}"
            if not isinstance(route, dict):
                c.err(rpath, "expected a route record")
                continue
            r = c.record(rpath, ROUTE_ENTITY, route, skip=("plugins",))
            if not r.get("paths") and not r.get("methods"):
                c.err(rpath, "must set one of 'methods', 'paths'")
            for p in r.get("paths") or []:
                if isinstance(p, str) and p.startswith("~"):
                    err = _is_regex(p[1:])
                    if err:
                        c.err(f"{rpath}.paths", err)
            for meth in r.get("methods") or []:
                if meth not in HTTP_METHODS:
                    c.err(f"{rpath}.methods", f"unsupported method '{meth}'")
            for ident in ("name", "id"):
                if r.get(ident):
                    if r[ident] in route_names:
                        c.err(rpath, f"duplicate route {ident} '{r[ident]}'")
                    route_names[r[ident]] = r
            r["plugins"] = _plugins(c, rpath, route.get("plugins"))
            s["routes"].append(r)
        s["plugins"] = _plugins(c, spath, svc.get("plugins"))
        services_out.append(s)
    top["services"] = services_out

    consumers_out: list[dict] = []
    consumer_ids: set[str] = set()
    jwt_keys: set[str] = set()
    for ci, cons in enumerate(doc.get("consumers") or []):
        cpath = _label("consumers", cons, ci)
        if not isinstance(cons, dict):
            c.err(cpath, "expected a consumer record")
            continue
        co = c.record(cpath, CONSUMER_ENTITY, cons, skip=("jwt_secrets", "acls"))
        if not co.get("username") and not co.get("custom_id"):
            c.err(cpath, "at least one of these fields must be non-empty: 'custom_id', 'username'")
        for ident in ("username", "id", "custom_id"):
            if co.get(ident):
                if co[ident] in consumer_ids:
                    c.err(cpath, f"duplicate consumer {ident} '{co[ident]}'")
                consumer_ids.add(co[ident])
        co["jwt_secrets"] = []
        for ji, sec in enumerate(cons.get("jwt_secrets") or []):
            jpath = f"{cpath}.{_label('jwt_secrets', sec, ji)}"
            if not isinstance(sec, dict):
                c.err(jpath, "expected a jwt_secret record")
                continue
            j = c.record(jpath, JWT_SECRET_ENTITY, sec)
            alg = j.get("algorithm", "HS256")
            if not j.get("key"):
                c.err(f"{jpath}.key", "required by the stand-in (Kong would generate a random one)")
            elif j["key"] in jwt_keys:
                c.err(f"{jpath}.key", f"duplicate jwt_secrets key '{j['key']}'")
            else:
                jwt_keys.add(j["key"])
            if isinstance(alg, str) and not alg.startswith("HS"):
                pem = j.get("rsa_public_key")
                if not pem:
                    c.err(f"{jpath}.rsa_public_key", f"required for algorithm {alg}")
                else:
                    msg = _check_public_key(alg, pem)
                    if msg:
                        c.err(f"{jpath}.rsa_public_key", msg)
            elif not j.get("secret"):
                c.err(f"{jpath}.secret", "required by the stand-in for HS* algorithms")
            co["jwt_secrets"].append(j)
        co["acls"] = []
        for ai, acl in enumerate(cons.get("acls") or []):
            apath = f"{cpath}.{_label('acls', acl, ai)}"
            if not isinstance(acl, dict):
                c.err(apath, "expected an acl record")
                continue
            co["acls"].append(c.record(apath, ACL_ENTITY, acl))
        consumers_out.append(co)
    top["consumers"] = consumers_out

    top["plugins"] = _plugins(c, "plugins", doc.get("plugins"), top_level=True)
    for i, p in enumerate(top["plugins"]):
        if p.get("route") and p["route"] not in route_names:
            c.err(f"plugins[{i}].route", f"references unknown route '{p['route']}'")
        if p.get("service") and p["service"] not in service_names:
            c.err(f"plugins[{i}].service", f"references unknown service '{p['service']}'")
    _check_unique_plugins(c, top)
    _check_anonymous_consumers(c, top)
    return top, c.errors


def _check_anonymous_consumers(c: Checker, top: dict) -> None:
    """jwt `anonymous` must name a consumer (by id, else by username, as kong.client.load_consumer
    does): Kong would answer every unauthenticated request with a 500 instead."""
    known = {co.get("id") for co in top["consumers"]} | {
        co.get("username") for co in top["consumers"]
    }
    located = [("plugins", p) for p in top["plugins"]]
    for s in top["services"]:
        located += [(f"services[{s.get('name')}].plugins", p) for p in s["plugins"]]
        for r in s["routes"]:
            located += [(f"routes[{r.get('name')}].plugins", p) for p in r["plugins"]]
    for path, p in located:
        anonymous = p["name"] == "jwt" and p["config"].get("anonymous")
        if anonymous and anonymous not in known - {None}:
            c.err(f"{path}[jwt].config.anonymous", f"references unknown consumer '{anonymous}'")


def _plugins(c: Checker, path: str, plugins: Any, top_level: bool = False) -> list[dict]:
    out: list[dict] = []
    if plugins is None:
        return out
    if not isinstance(plugins, list):
        c.err(f"{path}.plugins", "expected a list")
        return out
    for i, p in enumerate(plugins):
        if not top_level and isinstance(p, dict) and (p.get("route") or p.get("service")):
            c.err(f"{path}.plugins[{i}]", "nested plugins must not reference route/service")
        checked = _check_plugin(c, f"{path}.plugins[{i}]", p)
        if checked is not None:
            out.append(checked)
    return out


def _check_unique_plugins(c: Checker, top: dict) -> None:
    def dupes(path: str, plugins: list[dict]) -> None:
        names = [p["name"] for p in plugins]
        for n in set(names):
            if names.count(n) > 1:
                c.err(path, f"plugin '{n}' configured more than once on the same entity")

    globals_ = [p for p in top["plugins"] if not p.get("route") and not p.get("service")]
    dupes("plugins", globals_)
    for s in top["services"]:
        extra = [
            p
            for p in top["plugins"]
            if p.get("service") and p["service"] in (s.get("name"), s.get("id"))
        ]
        dupes(f"services[{s.get('name')}].plugins", s["plugins"] + extra)
        for r in s["routes"]:
            extra = [
                p
                for p in top["plugins"]
                if p.get("route") and p["route"] in (r.get("name"), r.get("id"))
            ]
            dupes(f"routes[{r.get('name')}].plugins", r["plugins"] + extra)


def _check_public_key(alg: str, pem: str) -> str | None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        return "invalid key"
    if alg.startswith("RS") and not isinstance(key, rsa.RSAPublicKey):
        return f"not an RSA public key (algorithm {alg})"
    if alg.startswith("ES"):
        curve = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}[alg]
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != curve:
            return f"not an EC {curve} public key (algorithm {alg})"
    return None
