"""The one mapping from exceptions to HTTP responses, for every handler and the local gateway.

Domain errors (shared.errors) carry a stable `code`; this module alone chooses their status.
Bodies are always `{"error": {"code", "message", "field"?}}` and never hold a stack trace.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import ValidationError

from shared.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    ModelIntegrityError,
    ModelUnavailable,
    NotFound,
    RateLimited,
    TicketGuardError,
    Unauthorized,
    ValidationFailed,
)
from shared.observability import logger, metrics


class PayloadTooLarge(TicketGuardError):
    code = "payload_too_large"


class UnsupportedMediaType(TicketGuardError):
    code = "unsupported_media_type"


# Most specific class first: the first isinstance match wins.
_STATUS: tuple[tuple[type[TicketGuardError], int], ...] = (
    (ValidationFailed, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (RateLimited, 429),
    (DependencyUnavailable, 503),
    (ModelIntegrityError, 503),
    (ModelUnavailable, 503),
)

JSON_HEADERS = {"Content-Type": "application/json"}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def status_for(exc: TicketGuardError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def describe_validation_error(exc: ValidationError) -> tuple[str, str, str | None]:
    """(code, message, field) for the first problem pydantic found, in words a client can act on."""
    first = exc.errors(include_url=False)[0]
    kind = first["type"]
    location = ".".join(str(part) for part in first["loc"])
    if kind == "json_invalid":
        return "malformed_json", "request body is not valid JSON", None
    if kind == "model_type" or (kind in {"dict_type", "model_attributes_type"} and not location):
        return "validation_error", "request body must be a JSON object", None
    if kind == "missing":
        return "validation_error", f"field '{location}' is required", location
    if kind == "extra_forbidden":
        return "validation_error", f"field '{location}' is not allowed", location
    message = first["msg"].removeprefix("Value error, ")
    return "validation_error", f"field '{location}': {message}" if location else message, location or None


def _is_database_outage(exc: Exception) -> bool:
    """A pool that cannot hand out a connection, a refused/broken connection, a statement cut by
    the statement timeout: the database is unavailable to this request, not a bug (503)."""
    import psycopg
    from psycopg_pool import PoolTimeout

    return isinstance(exc, PoolTimeout | psycopg.OperationalError)


def to_response(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, extra headers) for any exception; unexpected ones become an opaque 500."""
    if isinstance(exc, TicketGuardError):
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(0, int(exc.retry_after_s)))
        status = status_for(exc)
        message = exc.message if status != 500 else "internal error"
        if status == 500:
            logger.error("unexpected domain error", extra={"code": exc.code, "detail": exc.message})
        return status, error_body(exc.code, message, exc.field), headers
    if isinstance(exc, ValidationError):
        code, message, field = describe_validation_error(exc)
        return 400, error_body(code, message, field), {}
    if isinstance(exc, json.JSONDecodeError):
        return 400, error_body("malformed_json", "request body is not valid JSON"), {}
    if _is_database_outage(exc):
        return 503, error_body(DependencyUnavailable.code, "PostgreSQL is unavailable"), {}
    logger.exception("unhandled error")
    return 500, error_body("internal_error", "internal error"), {}


def _as_response(exc: Exception) -> Response[str]:
    status, body, headers = to_response(exc)
    if status >= 500:
        metrics.add_metric(name="ServerErrors", unit="Count", value=1)
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers=headers or None,
    )


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Attach the one mapping to a resolver: every handler calls this, none maps errors itself."""
    app.exception_handler(TicketGuardError)(_as_response)
    app.exception_handler(ValidationError)(_as_response)
    app.exception_handler(json.JSONDecodeError)(_as_response)
    app.exception_handler(Exception)(_as_response)

    @app.not_found
    def _route_not_found(exc: Exception) -> Response[str]:
        return Response(
            status_code=404,
            content_type="application/json",
            body=json.dumps(error_body("route_not_found", "no such route")),
        )
