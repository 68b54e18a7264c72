"""What every admin route shares: the call (auth, work, audit: shared.admin.calls) and its answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from shared.admin.auth import Permission
from shared.admin.calls import Outcome, Work, admin_call, as_json
from shared.api.http import json_response


def answer(
    router: Router, permission: Permission, action: str, work: Work, target: str | None = None
) -> Response[str]:
    outcome: Outcome = admin_call(router.current_event.raw_event, permission, action, work, target=target)
    body: Any = as_json(outcome.body)
    return json_response(outcome.status, body)


def request_of(router: Router) -> APIGatewayProxyEvent:
    """The route's event as the REST proxy event it is (a Router types it as any proxy event)."""
    return APIGatewayProxyEvent(router.current_event.raw_event)
