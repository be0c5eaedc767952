"""Kong's response conventions: exit bodies, error templates, headers it adds.

Mirrors kong/pdk/response.lua (`exit`, `error`), kong/tools/http.lua (error templates and
Accept negotiation) and kong/error_handlers.lua (bodies of proxy errors).
"""

from __future__ import annotations

import re

import orjson

KONG_VERSION = "3.9.1"
SERVER_TOKEN = f"kong/{KONG_VERSION}"

JSON = "application/json; charset=utf-8"
_MIME = {
    "text/html": "text/html; charset=utf-8",
    "application/json": JSON,
    "text/plain": "text/plain; charset=utf-8",
    "application/xml": "application/xml; charset=utf-8",
    "application": JSON,
    "text": "text/plain; charset=utf-8",
}
_TEMPLATES = {
    JSON: '{\n  "message":"%s",\n  "request_id":"%s"\n}',
    "text/html; charset=utf-8": (
        '<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n'
        "    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n"
        "    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n"
    ),
    "text/plain; charset=utf-8": "%s\nrequest_id: %s\n",
    "application/xml; charset=utf-8": (
        '<?xml version="1.0" encoding="UTF-8"?>\n<error>\n  <message>%s</message>\n'
        "  <requestid>%s</requestid>\n</error>\n"
    ),
}

# kong/tools/http.lua get_default_exit_body / kong.response.error messages
HTTP_ERROR_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    411: "Length required",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    417: "Expectation failed",
    429: "API rate limit exceeded",
    500: "An unexpected error occurred",
    502: "An invalid response was received from the upstream server",
    503: "The upstream server is currently unavailable",
    504: "The upstream server is timing out",
}

_ACCEPT = re.compile(
    r"((?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*)/(?:[a-z0-9][a-z0-9\-!#$&^_+.]+|\*))"
    r"(?:\s*;\s*q=(1(?:\.0{0,3})?|0(?:\.\d{0,3})?)|\s*;\s*[a-z0-9][a-z0-9\-!#$&^_+.]+(?:=[^;]*)?)*",
    re.I,
)


def _mime_type(media: str) -> str | None:
    main, _, sub = media.partition("/")
    if sub == "*":
        return JSON if main == "*" else _MIME.get(main)
    return _MIME.get(media)


def response_type(accept: str | None) -> str:
    """kong.tools.http.get_response_type: pick the error body format from Accept."""
    ctype = JSON
    if accept is None:
        return ctype
    best = 0.0
    for part in accept.split(","):
        m = _ACCEPT.match(part.strip())
        if not m:
            continue
        q = float(m.group(2)) if m.group(2) else 1.0
        if q > best:
            best = q
            ctype = _mime_type(m.group(1).lower()) or ctype
    return ctype


class KongExit(Exception):
    """Short-circuit the request with a response produced by Kong itself."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or []


def exit_json(status: int, body: dict | None, headers: list[tuple[str, str]] | None = None):
    """kong.response.exit(status, table, headers): cjson body, JSON content type."""
    hdrs = list(headers or [])
    if body is None:
        return KongExit(status, b"", hdrs)
    hdrs.append(("Content-Type", JSON))
    return KongExit(status, orjson.dumps(body), hdrs)


def error(
    status: int,
    message: str | None,
    request_id: str,
    accept: str | None,
    headers: list[tuple[str, str]] | None = None,
) -> KongExit:
    """kong.response.error(status, message): templated body carrying Kong's request id."""
    ctype = response_type(accept)
    msg = message if message is not None else HTTP_ERROR_MESSAGES.get(status, "")
    body = (_TEMPLATES[ctype] % (msg, request_id)).encode()
    hdrs = list(headers or [])
    hdrs.append(("Content-Type", ctype))
    return KongExit(status, body, hdrs)


def proxy_error(status: int, request_id: str, accept: str | None, message: str | None = None):
    """kong/error_handlers.lua: the body Kong sends when the upstream fails."""
    msg = message or HTTP_ERROR_MESSAGES.get(status, f"The upstream server responded with {status}")
    return error(status, msg, request_id, accept)
