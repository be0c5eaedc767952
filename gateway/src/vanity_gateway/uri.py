"""Request-path normalization as Kong does it before routing (kong/tools/uri.lua).

Paths are handled as latin-1 strings: one character per byte, so a decoded `%C3%A4` stays the
two bytes Kong's Lua string holds, and `escape` re-encodes them byte for byte.
"""

from __future__ import annotations

import re

# RFC 3986 reserved characters plus "%": their percent-encodings stay encoded (hex upper-cased)
_RESERVED = frozenset(b"!*'();:@&=+$,/?%#[]")
_TRIPLET = re.compile(r"%([0-9A-Fa-f]{2})")
# what `escape` leaves alone: reserved, unreserved and "%"; anything else is percent-encoded
_UNSAFE = re.compile(r"[^!#$&'()*+,/:;=?@\[\]A-Za-z0-9\-_.~%]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _decode_triplet(m: re.Match) -> str:
    byte = int(m.group(1), 16)
    if byte in _RESERVED:
        return m.group(0).upper()
    return chr(byte)


def normalize(uri: str, merge_slashes: bool = False) -> str:
    """kong.tools.uri.normalize: decode non-reserved %XX, remove dot segments, merge `//`."""
    if uri in ("", "/"):
        return uri
    if "%" in uri:
        uri = _TRIPLET.sub(_decode_triplet, uri)
    if "." not in uri and (not merge_slashes or "//" not in uri):
        return uri

    output: list[str] = []
    while uri:
        if uri == "/.":
            uri = "/"
        elif uri == "/..":
            uri = "/"
            if output:
                output.pop()
        elif uri in (".", ".."):
            uri = ""
        elif uri.startswith("../"):
            uri = uri[3:]
        elif uri.startswith("./") or uri.startswith("/./"):
            uri = uri[2:]
        elif uri.startswith("/../"):
            uri = uri[3:]
            if output:
                output.pop()
        elif merge_slashes and uri.startswith("//"):
            uri = uri[1:]
        else:
            i = uri.find("/", 1)
            if i == -1:
                output.append(uri)
                uri = ""
            else:
                output.append(uri[:i])
                uri = uri[i:]
    return "".join(output)


def escape(uri: str) -> str:
    """kong.tools.uri.escape: percent-encode what may not travel raw in a request line."""
    return _UNSAFE.sub(lambda m: f"%{ord(m.group(0)):02X}", uri)


def route_path(raw_path: str) -> str:
    """The path Kong's router matches (kong/router/utils.lua strip_uri_args)."""
    return normalize(raw_path.split("?", 1)[0], merge_slashes=True)


def has_control_characters(path: str) -> bool:
    return _CONTROL.search(path) is not None
