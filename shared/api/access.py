"""Which API keys may call an API function: each key reaches only the operations of its usage plan.

A usage plan (shared/api/usage_plans.yaml) lists the operations its keys may call. API Gateway cannot
enforce that: a usage plan covers a whole stage, and method-level throttling is not an authorization.
So in AWS each API function receives the ids of the API keys allowed to call it in
`TG_ALLOWED_API_KEY_IDS` (comma-separated; infra/api.py derives them from the plans and the ApiKey
resources), and refuses any other key with 403 `forbidden` through the one error mapping. API Gateway
puts the id of the key it validated in `requestContext.identity.apiKeyId`.

Locally one gateway process serves every function, so it cannot give each function an environment of
its own; it refuses an out-of-plan key itself, from the same file, before any function runs (and puts
the key's name in `apiKeyId`). With the variable unset the check therefore trusts the gateway, in the
`local` and `test` environments only: a deployed function without the variable refuses every key.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from shared.api.answers import out_of_plan_message
from shared.config import env_name, get_settings
from shared.errors import Forbidden
from shared.observability import logger

ALLOWED_API_KEY_IDS_ENV = env_name("allowed_api_key_ids")
_TRUSTS_GATEWAY = frozenset({"local", "test"})


def _operation(event: APIGatewayProxyEvent) -> str:
    """The operation the event calls: API Gateway puts the method's operationName (the OpenAPI
    operationId) in the request context. Read from the event, not from openapi.yaml: a deployed
    function has no YAML parser (PyYAML is a local-only dependency)."""
    context = event.get("requestContext") or {}
    method, resource = event.get("httpMethod"), event.get("resource")
    name = context.get("operationName")
    return f"{name} ({method} {resource})" if name else f"{method} {resource}"


def require_allowed_api_key(event: APIGatewayProxyEvent) -> None:
    """Raise Forbidden unless the event's API key is one this function was deployed to serve.
    Call it first in every route that requires an API key. Two x-api-key headers are refused here
    too: which one API Gateway validated and which one the function would see is not left to chance."""
    sent = [
        name
        for name, values in (event.get("multiValueHeaders") or {}).items()
        for _ in (values or [])
        if name.lower() == "x-api-key"
    ]
    if len(sent) > 1:
        raise Forbidden("send exactly one x-api-key header", field="x-api-key")
    settings = get_settings()
    configured = settings.allowed_api_key_ids
    if configured is None:
        if settings.environment in _TRUSTS_GATEWAY:
            return
        logger.error(f"{ALLOWED_API_KEY_IDS_ENV} is not set: every API key is refused")
        raise Forbidden("no API key may call this function: its key scope is not configured")
    allowed = {part.strip() for part in configured.split(",") if part.strip()}
    identity = (event.get("requestContext") or {}).get("identity") or {}
    key_id = identity.get("apiKeyId")
    if key_id and str(key_id) in allowed:
        return
    operation = _operation(event)
    logger.warning("API key outside its usage plan", extra={"api_key_id": key_id, "operation": operation})
    raise Forbidden(out_of_plan_message(operation))
