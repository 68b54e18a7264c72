"""The one builder of API Gateway REST proxy events (payload format 1.0): the local gateway turns each
HTTP request into one, and the test fixtures and the benchmark build theirs here too, so that every
handler call outside AWS sees the event API Gateway would send.

What API Gateway decides is decided by the caller and passed in: the client's address (`source_ip`:
the connection's, never a forwarded header), the validated key's id (`api_key_id`), the arrival time
(`arrived_at`: requestTime and requestTimeEpoch, from which the scoring budget counts). Whether the
operation takes an API key, and its operationId, come from the OpenAPI document.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.api.spec import Operation, operations

Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


def _multi(pairs: Pairs) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(last value per name, every value per name), in order: API Gateway's single- and multi-value maps."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs.items() if isinstance(pairs, Mapping) else pairs:
        single[name] = value  # the last value wins, as in API Gateway
        multi.setdefault(name, []).append(value)
    return single, multi


def _body(body: bytes | str | None) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): text as is, bytes as UTF-8 when they decode, else base64; empty: None."""
    if not body:
        return None, False
    if isinstance(body, str):
        return body, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def rest_proxy_event(
    method: str,
    resource: str,
    path: str,
    *,
    source_ip: str,
    headers: Pairs = (),
    query: Pairs = (),
    path_parameters: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    api_key_id: str | None = None,
    arrived_at: datetime | None = None,
    request_id: str | None = None,
    stage: str = "local",
    protocol: str = "HTTP/1.1",
    authorizer_claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The event of a `method` request to `path`, routed to the document's `resource` (the path
    template). `headers` and `query` are name/value pairs in arrival order (a name may repeat) or a
    mapping; `arrived_at` defaults to now, `request_id` to a fresh one. `authorizer_claims`: the
    token claims a Cognito authorizer passes (`requestContext.authorizer.claims`)."""
    method = method.upper()
    operation = next((op for op in operations() if op.method == method and op.path == resource), None)
    single_headers, multi_headers = _multi(headers)
    single_query, multi_query = _multi(query)
    text, is_base64 = _body(body)
    request_id = request_id or str(uuid.uuid4())
    context = {
        **_request_context(method, resource, f"/{stage}{path}", stage, protocol, request_id),
        **_arrival(arrived_at or datetime.now(UTC)),
        "resourceId": operation.operation_id if operation else None,
        # API Gateway sets it from the method's operationName, which the OpenAPI import takes
        # from operationId.
        "operationName": operation.operation_id if operation else None,
        **({"authorizer": {"claims": dict(authorizer_claims)}} if authorizer_claims else {}),
        "identity": _identity(source_ip, single_headers, api_key_id, operation),
    }
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": is_base64,
        "requestContext": context,
    }


def _request_context(
    method: str, resource: str, stage_path: str, stage: str, protocol: str, request_id: str
) -> dict[str, Any]:
    """The requestContext's fields that name the request (its arrival, operation, authorizer and
    identity aside)."""
    return {
        "accountId": "000000000000",
        "apiId": "local",
        "stage": stage,
        "resourcePath": resource,
        "httpMethod": method,
        "path": stage_path,
        "protocol": protocol,
        "requestId": request_id,
        "extendedRequestId": request_id,
    }


def _arrival(now: datetime) -> dict[str, Any]:
    return {
        "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(now.timestamp() * 1000),
    }


def _identity(
    source_ip: str, headers: Mapping[str, str], api_key_id: str | None, operation: Operation | None
) -> dict[str, Any]:
    """requestContext.identity: the client's address and user agent, and the API key (its value and
    id) only where the operation takes one (an operation the document lacks counts as keyed)."""
    named = {name.lower(): value for name, value in headers.items()}
    keyed = operation is None or operation.requires_api_key
    return {
        "sourceIp": source_ip,
        "userAgent": named.get("user-agent"),
        "apiKey": named.get("x-api-key") if keyed else None,
        "apiKeyId": api_key_id if keyed else None,
        "accountId": None,
        "caller": None,
        "user": None,
        "userArn": None,
    }
