"""One error model for REST (RFC 9457 problem+json) and gRPC (status code + reason metadata).

Service layers raise `ServiceError` subclasses; entry points translate them. Validation errors
name the field. Nothing unexpected leaks: an unhandled exception is a logged 500 without details.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import grpc
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from vanity_common.context import current_request_id, request_id_var
from vanity_common.db import is_database_unavailable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
REASON_METADATA_KEY = "vanity-error-reason"


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class ServiceError(Exception):
    """A failure the caller can act on. `reason` is stable and machine-readable."""

    message: str
    reason: str = "ERROR"
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    http_status: int = 400
    grpc_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    # Extra members of the REST problem (RFC 9457 "extension members"), e.g. how many units
    # a client may still add; gRPC callers get `message` and `reason` only.
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _error_class(name: str, http_status: int, grpc_code: grpc.StatusCode, default_reason: str):
    def __init__(self, message: str, reason: str = default_reason, errors=None, headers=None):
        ServiceError.__init__(
            self,
            message=message,
            reason=reason,
            errors=list(errors or []),
            headers=dict(headers or {}),
            http_status=http_status,
            grpc_code=grpc_code,
        )

    return type(name, (ServiceError,), {"__init__": __init__})


InvalidArgument = _error_class("InvalidArgument", 422, grpc.StatusCode.INVALID_ARGUMENT, "INVALID")
NotFound = _error_class("NotFound", 404, grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
Conflict = _error_class("Conflict", 409, grpc.StatusCode.ALREADY_EXISTS, "CONFLICT")
FailedPrecondition = _error_class(
    "FailedPrecondition", 409, grpc.StatusCode.FAILED_PRECONDITION, "FAILED_PRECONDITION"
)
Unauthenticated = _error_class(
    "Unauthenticated", 401, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"
)
PermissionDenied = _error_class(
    "PermissionDenied", 403, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED"
)
TooManyRequests = _error_class(
    "TooManyRequests", 429, grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_REQUESTS"
)
Unavailable = _error_class("Unavailable", 503, grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE")


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    reason: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank"
        if reason is None
        else f"https://vanity.shop/problems/{reason.lower()}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "request_id": current_request_id(),
    }
    if reason:
        body["reason"] = reason
    if errors:
        body["errors"] = errors
    for name, value in (extensions or {}).items():
        body.setdefault(name, value)  # never over a standard member
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "items", 0, "sku") -> "items[0].sku"; ("query", "limit") -> "limit"
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(loc[0] if loc else "body")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> Response:
        return problem_response(
            exc.http_status,
            exc.message,
            reason=exc.reason,
            errors=[e.as_dict() for e in exc.errors] or None,
            headers=exc.headers or None,
            extensions=exc.extensions or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            422, f"Invalid request: {fields}", reason="VALIDATION_FAILED", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _dependency_error(_: Request, exc: grpc.aio.AioRpcError) -> Response:
        # A downstream call the handler did not translate itself: never a 500, never a hang.
        log.warning("dependency call failed: %s %s", exc.code().name, exc.details())
        if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return problem_response(
                503,
                "A service this request depends on is unavailable; try again shortly.",
                reason="DEPENDENCY_UNAVAILABLE",
                headers={"Retry-After": "1"},
            )
        return problem_response(
            502, "A service this request depends on failed.", reason="DEPENDENCY_ERROR"
        )

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(request: Request, exc: SQLAlchemyError) -> Response:
        if not is_database_unavailable(exc):
            return await _unexpected(request, exc)
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "The service's database is unavailable; try again shortly.",
            reason="DATABASE_UNAVAILABLE",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        request_id = getattr(request.state, "request_id", None)
        token = request_id_var.set(request_id)
        try:
            log.exception("unhandled error", exc_info=exc)
            headers = {"X-Request-ID": request_id} if request_id else None
            return problem_response(
                500, "An unexpected error occurred.", reason="INTERNAL", headers=headers
            )
        finally:
            request_id_var.reset(token)


def grpc_reason(error: grpc.aio.AioRpcError) -> str | None:
    """The stable reason a Vanity service attached to a failed call, if any."""
    for key, value in error.trailing_metadata() or ():
        if key == REASON_METADATA_KEY:
            return value
    return None
