"""GET /api/v1/metrics: validate the window -> KPIs and operational figures."""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.api.access import require_allowed_api_key
from shared.api.errors import register_error_handlers
from shared.api.http import client_ip, json_response
from shared.api.models import MetricsQuery
from shared.db import get_pool
from shared.observability import logger, metrics, tracer
from shared.ratelimit.limiter import enforce
from shared.scoring.report import metrics_report

# A request refused before scoring emits no metric; that is expected, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

app = APIGatewayRestResolver()
register_error_handlers(app)


@app.get("/api/v1/metrics")
def get_metrics() -> Response[str]:
    require_allowed_api_key(app.current_event)
    query = MetricsQuery.model_validate(app.current_event.query_string_parameters or {})
    start, end = query.window()
    enforce("GET /api/v1/metrics", ip=client_ip(app.current_event))
    with get_pool().connection() as conn:
        report = metrics_report(conn, start, end)
    return json_response(200, report)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # keep payloads out of X-Ray
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
