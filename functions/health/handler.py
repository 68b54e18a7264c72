"""GET /health: per-dependency up/down, anonymous; GET /health/details: the full report, behind an API
key. 503 when a hard dependency is down."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.api.access import require_allowed_api_key
from shared.api.http import json_response
from shared.api.lambda_app import api_app, api_handler
from shared.api.models import HealthResponse
from shared.health.checks import check_health

app = api_app()


def _answer(report: HealthResponse) -> Response[str]:
    return json_response(503 if report.status == "down" else 200, report)


@app.get("/health")
def health() -> Response[str]:
    return _answer(check_health().anonymous())


@app.get("/health/details")
def health_details() -> Response[str]:
    require_allowed_api_key(app.current_event)
    return _answer(check_health())


handler = api_handler(app)
