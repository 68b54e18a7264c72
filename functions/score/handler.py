"""POST /api/v1/ml/predict/fraud: parse -> shared.scoring -> response."""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.api.access import require_allowed_api_key
from shared.api.errors import register_error_handlers
from shared.api.http import client_ip, json_response, parse_json_body, request_deadline
from shared.api.models import PredictRequest
from shared.observability import logger, metrics, tracer
from shared.scoring.service import score_transaction

# A request refused before scoring emits no metric; that is expected, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

app = APIGatewayRestResolver()
register_error_handlers(app)


@app.post("/api/v1/ml/predict/fraud")
def predict_fraud() -> Response[str]:
    require_allowed_api_key(app.current_event)
    request = parse_json_body(app.current_event, PredictRequest)
    decision = score_transaction(
        request,
        client_ip=client_ip(app.current_event),
        deadline=request_deadline(app.current_event, app.lambda_context),
    )
    return json_response(200, decision)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # keep payloads out of X-Ray
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
