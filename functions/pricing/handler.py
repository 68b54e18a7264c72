"""The pricing experiment (spec 1.5): POST /api/v1/pricing/assignments, GET /api/v1/pricing/experiment
-> shared.pricing (the rewards settle in functions/pricing_settle, on its schedule)."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import Response

from shared.api.access import require_allowed_api_key
from shared.api.http import client_ip, json_response, parse_json_body
from shared.api.lambda_app import api_app, api_handler
from shared.db import get_pool
from shared.pricing.models import AssignRequest
from shared.pricing.service import assign, experiment_state
from shared.ratelimit.limiter import enforce

app = api_app()


@app.post("/api/v1/pricing/assignments")
def assign_pricing() -> Response[str]:
    require_allowed_api_key(app.current_event)
    request = parse_json_body(app.current_event, AssignRequest)
    enforce("POST /api/v1/pricing/assignments", ip=client_ip(app.current_event))
    with get_pool().connection() as conn:
        assignment = assign(conn, request, datetime.now(UTC))
    return json_response(200, assignment)


@app.get("/api/v1/pricing/experiment")
def get_pricing_experiment() -> Response[str]:
    require_allowed_api_key(app.current_event)
    enforce("GET /api/v1/pricing/experiment", ip=client_ip(app.current_event))
    with get_pool().connection() as conn:
        state = experiment_state(conn)
    return json_response(200, state)


handler = api_handler(app)
