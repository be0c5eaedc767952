"""The one page-cursor codec: a JSON object as unpadded base64url, opaque to clients.

Services decide what goes in (a keyset position) and check what comes out: every value in a
cursor came from the client, so a service validates types and ranges (`vanity_common.types.
db_int_in_range`) before a value reaches a query.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson


class CursorError(ValueError):
    """The token is not a cursor this codec wrote (or its content fails the caller's checks)."""


def encode_cursor(fields: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(fields)).rstrip(b"=").decode()


def decode_cursor(token: str) -> dict[str, Any]:
    """The object `encode_cursor` was given; `CursorError("malformed cursor")` for anything else."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise CursorError("malformed cursor") from exc
    if not isinstance(data, dict):
        raise CursorError("malformed cursor")
    return data
