"""/admin/monitoring: the monitoring page (HTML shell and its assets, no data in them) and its two
JSON routes behind the admin authorization (read permission: analyst, admin, auditor): live figures
(every 5 s) and aggregates (every minute)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.admin.auth import Permission, authorize
from shared.api.http import json_response
from shared.api.lambda_app import api_app, api_handler
from shared.cache.clients import get_redis
from shared.db import get_pool
from shared.monitoring.page import SECURITY_HEADERS, StaticFile, asset, page
from shared.monitoring.payload import aggregates_payload, live_payload
from shared.monitoring.security import parse_severities

app = api_app()


def _static(found: StaticFile) -> Response[str]:
    return Response(
        status_code=200, content_type=found.content_type, body=found.body, headers=SECURITY_HEADERS
    )


@app.get("/admin/monitoring")
def monitoring_page() -> Response[str]:
    return _static(page())


@app.get("/admin/monitoring/assets/<name>")
def monitoring_asset(name: str) -> Response[str]:
    return _static(asset(name))


@app.get("/api/v1/admin/monitoring/live")
def monitoring_live() -> Response[str]:
    authorize(app.current_event.raw_event, Permission.READ)
    severities = parse_severities(app.current_event.get_query_string_value("severity"))
    with get_pool().connection() as conn:
        return json_response(200, live_payload(conn, get_redis(), severities=severities))


@app.get("/api/v1/admin/monitoring/aggregates")
def monitoring_aggregates() -> Response[str]:
    authorize(app.current_event.raw_event, Permission.READ)
    with get_pool().connection() as conn:
        return json_response(200, aggregates_payload(conn, get_redis()))


handler = api_handler(app)
