"""cors (priority 2000): kong/plugins/cors/handler.lua — answers preflight, decorates responses."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..context import Headers, RequestContext
from ..kong import KongExit
from . import Plugin

_PLAIN = re.compile(r"^[A-Za-z0-9.:/-]+$")
ALL_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"


def normalize_origin(domain: str) -> tuple[str, str]:
    """Returns (domain, host) like the Lua normalize_origin."""
    try:
        parts = urlsplit(domain)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return domain, domain
    if not host or not parts.netloc:
        return domain, domain
    if (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443):
        port = None
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{host}{f':{port}' if port else ''}", host


class Cors(Plugin):
    name = "cors"
    priority = 2000
    has_header_filter = True

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        origins = conf.get("origins") or []
        self.origins = origins
        self.cached: list[dict] = []
        self.any_star = "*" in origins
        for entry in origins:
            if entry == "*":
                continue
            if re.search(r"[^A-Za-z0-9.:/-]", entry):
                pattern = entry if entry.endswith("$") else entry + "$"
                if pattern.startswith("^"):
                    pattern = pattern[1:]
                d = {"regex": re.compile(pattern)}
            else:
                d = {"domain": normalize_origin(entry)[0]}
            d["by_host"] = ":" not in entry
            self.cached.append(d)

    def _configure_origin(self, header_filter: bool, headers: Headers, origin: str | None) -> bool:
        n = len(self.origins)
        if n == 0 or (n == 1 and self.origins[0] == "*"):
            headers.set("Access-Control-Allow-Origin", "*")
            return True
        if header_filter:
            headers.add("Vary", "Origin")
        else:
            headers.set("Vary", "Origin")
        if n == 1 and _PLAIN.match(self.origins[0]):
            headers.set("Access-Control-Allow-Origin", self.origins[0])
            return False
        if origin:
            if self.any_star:
                headers.set("Access-Control-Allow-Origin", "*")
                return True
            domain, host = normalize_origin(origin)
            for d in self.cached:
                if "regex" in d:
                    found = d["regex"].match(host if d["by_host"] else domain) is not None
                else:
                    found = domain == d["domain"]
                if found:
                    headers.set("Access-Control-Allow-Origin", domain)
                    return False
        headers.clear("Access-Control-Allow-Origin")
        return False

    def _configure_credentials(self, allow_all, header_filter, headers, origin) -> None:
        if not self.conf["credentials"]:
            return
        if not allow_all:
            headers.set("Access-Control-Allow-Credentials", "true")
            return
        if origin:
            if header_filter:
                headers.add("Vary", "Origin")
            else:
                headers.set("Vary", "Origin")
            headers.set("Access-Control-Allow-Origin", origin)
            headers.set("Access-Control-Allow-Credentials", "true")

    def access(self, ctx: RequestContext) -> None:
        origin = ctx.header("origin")
        if (
            ctx.method != "OPTIONS"
            or not origin
            or ctx.header("access-control-request-method") is None
        ):
            return
        ctx.plugin_ctx.setdefault(self.name, {})["skip_response_headers"] = True
        if self.conf["preflight_continue"]:
            return
        h = Headers()
        allow_all = self._configure_origin(False, h, origin)
        self._configure_credentials(allow_all, False, h, origin)
        if self.conf.get("headers"):
            h.set("Access-Control-Allow-Headers", ",".join(self.conf["headers"]))
        else:
            acrh = ctx.header("access-control-request-headers")
            if acrh is not None:
                h.set("Access-Control-Allow-Headers", acrh)
        methods = self.conf.get("methods")
        h.set("Access-Control-Allow-Methods", ",".join(methods) if methods else ALL_METHODS)
        if self.conf.get("max_age") is not None:
            ma = self.conf["max_age"]
            h.set("Access-Control-Max-Age", str(int(ma)) if float(ma).is_integer() else str(ma))
        if (
            self.conf["private_network"]
            and ctx.header("access-control-request-private-network") == "true"
        ):
            h.set("Access-Control-Allow-Private-Network", "true")
        raise KongExit(200, b"", h.items())

    def header_filter(self, ctx: RequestContext, status: int, headers: Headers) -> None:
        if ctx.plugin_ctx.get(self.name, {}).get("skip_response_headers"):
            return
        origin = ctx.header("origin")
        if not origin and not self.conf["allow_origin_absent"]:
            return
        allow_all = self._configure_origin(True, headers, origin)
        self._configure_credentials(allow_all, True, headers, origin)
        if self.conf.get("exposed_headers"):
            headers.set("Access-Control-Expose-Headers", ",".join(self.conf["exposed_headers"]))
