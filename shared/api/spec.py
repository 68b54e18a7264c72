"""The OpenAPI document, read once: the local gateway's routes and the tests come from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
GATEWAY_RESPONSES_EXTENSION = "x-ticketguard-gateway-responses"
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


@lru_cache(maxsize=1)
def operations() -> tuple[Operation, ...]:
    document = load_openapi()
    global_security = document.get("security", [])
    found = []
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            spec = item[method]
            security = spec.get("security", global_security)
            found.append(
                Operation(
                    path=path,
                    method=method.upper(),
                    operation_id=spec["operationId"],
                    function=spec.get("x-ticketguard-function", ""),
                    requires_api_key=any("api_key" in requirement for requirement in security),
                    max_body_bytes=spec.get("x-ticketguard-max-body-bytes"),
                    queue=spec.get("x-ticketguard-queue"),
                    requires_admin_token=any(ADMIN_SCHEME in requirement for requirement in security),
                )
            )
    return tuple(found)


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


@lru_cache(maxsize=1)
def gateway_responses() -> dict[str, GatewayResponse]:
    """Response type -> the gateway's answer, as the CDK stack deploys it (infra/api.py reads the
    same table) and the local gateway answers it."""
    table = load_openapi()[GATEWAY_RESPONSES_EXTENSION]
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
