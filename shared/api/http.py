"""Helpers every API handler uses to read a proxy event and answer: body limits, JSON, client IP."""

from __future__ import annotations

import base64
import binascii
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


def parse_json_body(event: APIGatewayProxyEvent, model: type[Model]) -> Model:
    """The request body as `model`; 413 if too large, 415 if not JSON, 400 naming the field otherwise.
    The limit is checked here too, not only by the gateway: API Gateway's own limit is 10 MB."""
    body = _raw_body(event)
    if len(body) > get_settings().max_body_bytes:
        raise PayloadTooLarge(f"request body exceeds {get_settings().max_body_bytes} bytes")
    content_type = header(event, "content-type")
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise UnsupportedMediaType(f"content type {media_type or '(empty)'!r} is not application/json")
    if not body.strip():
        raise ValidationFailed("a JSON request body is required")
    return model.model_validate_json(body)


def client_ip(event: APIGatewayProxyEvent) -> str | None:
    """API Gateway's view of the caller (requestContext.identity.sourceIp)."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    source = identity.get("sourceIp")
    return str(source) if source else None


def json_response(status: int, payload: BaseModel | dict[str, Any]) -> Response[str]:
    import json

    body = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    return Response(status_code=status, content_type="application/json", body=body)
