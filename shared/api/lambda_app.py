"""The one way an API function is built: a Powertools REST resolver with the one exception-to-HTTP
mapping, and the one decorator stack around its handler (the request's correlation id in every log
line, an X-Ray segment without payloads, the EMF metrics flushed once per request)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from shared.api.errors import register_error_handlers
from shared.api.http import request_deadline
from shared.db.deadline import deadline_scope
from shared.observability import logger, metrics, tracer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# A request refused before it did anything measurable emits no metric: expected, not a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def api_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    register_error_handlers(app)
    return app


def api_handler(app: APIGatewayRestResolver) -> Handler:
    """The Lambda entry point of `app`."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler(capture_response=False)  # keep payloads out of X-Ray
    @metrics.log_metrics(raise_on_empty_metrics=False)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # The request's time, counted from its arrival: no PostgreSQL wait of the request outlives it.
        with deadline_scope(request_deadline(APIGatewayProxyEvent(event), context)):
            return app.resolve(event, context)

    return handler
