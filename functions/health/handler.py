"""GET /health: per-dependency status; 503 when a hard dependency is down."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.api.errors import register_error_handlers
from shared.api.http import json_response
from shared.observability import logger, tracer
from shared.observability.health import check_health

app = APIGatewayRestResolver()
register_error_handlers(app)


@app.get("/health")
def health() -> Response[str]:
    report = check_health()
    return json_response(503 if report.status == "down" else 200, report)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # keep payloads out of X-Ray
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
