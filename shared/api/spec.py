"""The OpenAPI document, read once: the local gateway's routes and the tests come from it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
# The document's own extensions: which function serves an operation, or which queue the gateway sends its
# body to; the local gateway's body limit per operation; the table of the gateway's own answers.
FUNCTION_EXTENSION = "x-ticketguard-function"
QUEUE_EXTENSION = "x-ticketguard-queue"
MAX_BODY_EXTENSION = "x-ticketguard-max-body-bytes"
GATEWAY_RESPONSES_EXTENSION = "x-ticketguard-gateway-responses"
API_KEY_SCHEME = "api_key"
ADMIN_SCHEME = "cognito_admin"


@dataclass(frozen=True)
class Operation:
    path: str  # the template, e.g. /api/v1/ml/predict/fraud (API Gateway's `resource`)
    method: str  # upper case
    operation_id: str
    function: str  # functions/<function>/handler.py serves it ("" for a queued operation)
    requires_api_key: bool
    # The operation's own body limit (`x-ticketguard-max-body-bytes`), else the configured one
    max_body_bytes: int | None = None
    # `x-ticketguard-queue`: the gateway puts the body on this queue and answers 202 itself (API
    # Gateway -> SQS in AWS, tooling.local.queue locally); a function drains the queue.
    queue: str | None = None
    # Secured by the admins' Cognito authorizer (`cognito_admin`): a valid ID token in Authorization,
    # checked by the gateway (API Gateway in AWS, tooling.local.issuer locally) before the function.
    requires_admin_token: bool = False


@lru_cache(maxsize=1)
def load_openapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text())
    return document


def operation_items(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, lower-case method, operation object) for every operation of `document`."""
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def _requires(scheme: str, document: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    security = operation.get("security", document.get("security", []))
    return any(scheme in requirement for requirement in security)


def requires_api_key(document: Mapping[str, Any], operation: Mapping[str, Any]) -> bool:
    return _requires(API_KEY_SCHEME, document, operation)


def read_operations(document: Mapping[str, Any]) -> tuple[Operation, ...]:
    """The operations of `document` (the one below, or a variant of it in a test)."""
    return tuple(
        Operation(
            path=path,
            method=method.upper(),
            operation_id=spec["operationId"],
            function=spec.get(FUNCTION_EXTENSION, ""),
            requires_api_key=requires_api_key(document, spec),
            max_body_bytes=spec.get(MAX_BODY_EXTENSION),
            queue=spec.get(QUEUE_EXTENSION),
            requires_admin_token=_requires(ADMIN_SCHEME, document, spec),
        )
        for path, method, spec in operation_items(document)
    )


@lru_cache(maxsize=1)
def operations() -> tuple[Operation, ...]:
    return read_operations(load_openapi())


def _template_regex(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", path)
    pattern = "".join(
        f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts
    )
    return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class RouteMatch:
    template: str
    path_parameters: dict[str, str]
    operations: dict[str, Operation]  # method -> operation


@lru_cache(maxsize=1)
def _routes() -> tuple[tuple[re.Pattern[str], str, dict[str, Operation]], ...]:
    by_template: dict[str, dict[str, Operation]] = {}
    for operation in operations():
        by_template.setdefault(operation.path, {})[operation.method] = operation
    return tuple((_template_regex(template), template, allowed) for template, allowed in by_template.items())


def match_path(path: str) -> RouteMatch | None:
    """The spec path template that `path` matches, with the operations it allows; None if unknown."""
    for pattern, template, allowed in _routes():
        found = pattern.match(path)
        if found:
            return RouteMatch(template, found.groupdict(), allowed)
    return None


@dataclass(frozen=True)
class GatewayResponse:
    """One of the gateway's own answers (the document's x-ticketguard-gateway-responses table)."""

    type: str  # API Gateway's gateway response type, or a local-only name
    status: int | None  # None: the error's own status (DEFAULT_4XX, DEFAULT_5XX)
    code: str
    message: str = ""  # the local gateway's message, a format string
    field: str | None = None
    local_only: bool = False


def read_gateway_responses(document: Mapping[str, Any]) -> dict[str, GatewayResponse]:
    """Response type -> the gateway's answer, from `document`'s table."""
    table = document.get(GATEWAY_RESPONSES_EXTENSION)
    if not table:
        raise ValueError(f"the document has no {GATEWAY_RESPONSES_EXTENSION}: what does the gateway answer?")
    return {
        name: GatewayResponse(
            type=name,
            status=entry.get("status"),
            code=entry["code"],
            message=entry.get("message", ""),
            field=entry.get("field"),
            local_only=bool(entry.get("local_only", False)),
        )
        for name, entry in table.items()
    }


@lru_cache(maxsize=1)
def gateway_responses() -> dict[str, GatewayResponse]:
    """Response type -> the gateway's answer, as the CDK stack deploys it (infra/api.py, all but the
    local-only ones) and the local gateway answers it."""
    return read_gateway_responses(load_openapi())
