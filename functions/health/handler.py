"""GET /health: per-dependency up/down, anonymous; GET /health/details: the full report, behind an API
key. 503 when a hard dependency is down."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.api.access import require_allowed_api_key
from shared.api.errors import register_error_handlers
from shared.api.http import json_response
from shared.api.models import HealthResponse
from shared.health.checks import check_health
from shared.observability import logger, tracer

app = APIGatewayRestResolver()
register_error_handlers(app)


def _answer(report: HealthResponse) -> Response[str]:
    return json_response(503 if report.status == "down" else 200, report)


@app.get("/health")
def health() -> Response[str]:
    return _answer(check_health().anonymous())


@app.get("/health/details")
def health_details() -> Response[str]:
    require_allowed_api_key(app.current_event)
    return _answer(check_health())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # keep payloads out of X-Ray
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
