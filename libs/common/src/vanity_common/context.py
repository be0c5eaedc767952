"""Per-request context carried through async calls (request id, verified caller)."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "x-request-id"
# gRPC metadata keys must be lower case.
REQUEST_ID_METADATA = "x-request-id"


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()
