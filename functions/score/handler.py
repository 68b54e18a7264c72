"""POST /api/v1/ml/predict/fraud: parse -> shared.scoring -> response."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.api.access import require_allowed_api_key
from shared.api.http import client_ip, json_response, parse_json_body, request_deadline
from shared.api.lambda_app import api_app, api_handler
from shared.api.models import PredictRequest
from shared.scoring.service import score_transaction

app = api_app()


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


handler = api_handler(app)
