"""Helpers every API handler uses to read a proxy event and answer: body limits, JSON, client IP."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import time
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel

from shared.api.errors import PayloadTooLarge, UnsupportedMediaType
from shared.config import get_settings
from shared.errors import ValidationFailed

Model = TypeVar("Model", bound=BaseModel)


def header(event: APIGatewayProxyEvent, name: str) -> str | None:
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def _raw_body(event: APIGatewayProxyEvent) -> bytes:
    """The body's bytes (API Gateway base64-encodes what is not text); undecodable -> 400."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(str(body), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("request body is not valid base64") from None


def parse_json_body(
    event: APIGatewayProxyEvent, model: type[Model], *, max_bytes: int | None = None
) -> Model:
    """The request body as `model`; 413 if larger than `max_bytes` (default: the configured limit),
    415 if not JSON, 400 naming the field otherwise (a key given twice included). The limit is checked here too, not only by the gateway: API
    Gateway's own limit is 10 MB. A body sent without a content type is read as JSON, as it always
    was: it is parsed as strictly as any other, and refusing it would break working clients."""
    body = _raw_body(event)
    limit = max_bytes or get_settings().max_body_bytes
    if len(body) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    content_type = header(event, "content-type")
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise UnsupportedMediaType(f"content type {media_type or '(empty)'!r} is not application/json")
    if not body.strip():
        raise ValidationFailed("a JSON request body is required")
    # A key given twice means two different requests to two different parsers (the marketplace's
    # and ours may keep different ones): refused, never resolved by "the last one wins".
    # Not JSON at all (ValueError): pydantic's own error below says so, naming what is wrong.
    with contextlib.suppress(ValueError):
        json.loads(body, object_pairs_hook=_refuse_duplicate_keys)
    return model.model_validate_json(body)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValidationFailed(f"field '{key}' appears more than once in the JSON body", field=key)
        seen.add(key)
    return dict(pairs)


def client_ip(event: APIGatewayProxyEvent) -> str | None:
    """API Gateway's view of the caller (requestContext.identity.sourceIp)."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    source = identity.get("sourceIp")
    return str(source) if source else None


# Left for the answer to travel back once the scoring budget is spent, before Lambda's own timeout.
_CONTEXT_MARGIN_S = 0.1


def request_deadline(event: APIGatewayProxyEvent, context: Any) -> float:
    """When this request's time is up, on the time.perf_counter() scale: its arrival at the gateway
    (requestContext.requestTimeEpoch) plus the request budget, and never later than what the Lambda
    context has left. Counting from arrival, not from when a handler started, keeps the time spent
    queued for a worker inside the budget."""
    now_perf, now_wall = time.perf_counter(), time.time()
    budget_s = get_settings().request_timeout_s
    arrival_ms = (event.get("requestContext") or {}).get("requestTimeEpoch")
    waited_s = 0.0
    if isinstance(arrival_ms, int | float) and not isinstance(arrival_ms, bool):
        # Clamped: a clock step between the gateway and this host must not eat the whole budget.
        waited_s = min(max(0.0, now_wall - arrival_ms / 1000), budget_s)
    deadline = now_perf - waited_s + budget_s
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining_ms):
        deadline = min(deadline, now_perf + remaining_ms() / 1000 - _CONTEXT_MARGIN_S)
    return deadline


def json_response(status: int, payload: BaseModel | dict[str, Any]) -> Response[str]:
    body = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    return Response(status_code=status, content_type="application/json", body=body)
