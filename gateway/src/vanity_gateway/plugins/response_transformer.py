"""response-transformer (priority 800): header operations of header_transformer.lua."""

from __future__ import annotations

import re

from ..context import Headers, RequestContext
from . import Plugin

_PAIR = re.compile(r"^([^:]+):*(.*)$", re.S)


def _pairs(items: list[str]) -> list[tuple[str, str | None]]:
    out = []
    for item in items:
        m = _PAIR.match(item)
        if m:
            out.append((m.group(1), m.group(2) or None))
    return out


class ResponseTransformer(Plugin):
    name = "response-transformer"
    priority = 800
    has_access = False
    has_header_filter = True

    def __init__(self, conf, route_id, service_id, **env):
        super().__init__(conf, route_id, service_id, **env)
        self.remove = [n for n, _ in _pairs(conf["remove"]["headers"])]
        self.replace = _pairs(conf["replace"]["headers"])
        self.add = _pairs(conf["add"]["headers"])
        self.append = _pairs(conf["append"]["headers"])

    def header_filter(self, ctx: RequestContext, status: int, headers: Headers) -> None:
        for name in self.remove:
            headers.clear(name)
        for name, value in self.replace:
            if name in headers and value:
                headers.set(name, value)
        for name, value in self.add:
            if name not in headers and value:
                headers.set(name, value)
        for name, value in self.append:
            headers.add(name, value or "")
