"""GET /api/v1/metrics: validate the window -> KPIs and operational figures."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.api.access import require_allowed_api_key
from shared.api.http import client_ip, json_response
from shared.api.lambda_app import api_app, api_handler
from shared.api.models import MetricsQuery
from shared.db import get_pool
from shared.kpis.report import metrics_report
from shared.pricing.service import experiment_state
from shared.ratelimit.limiter import enforce

app = api_app()


@app.get("/api/v1/metrics")
def get_metrics() -> Response[str]:
    require_allowed_api_key(app.current_event)
    query = MetricsQuery.from_event(app.current_event)
    start, end = query.window()
    enforce("GET /api/v1/metrics", ip=client_ip(app.current_event))
    with get_pool().connection() as conn:
        report = metrics_report(conn, start, end)
        report["pricing"] = experiment_state(conn).model_dump(mode="json")
    return json_response(200, report)


handler = api_handler(app)
