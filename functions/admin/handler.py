"""/api/v1/admin/...: the admin surface behind the admins' Cognito authorizer (MFA) and RBAC.

Thin: each route reads its input, checks the caller (shared.admin.auth) and calls shared.admin."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.admin.auth import Permission, authorize
from shared.api.http import json_response
from shared.api.lambda_app import api_app, api_handler

app = api_app()


@app.get("/api/v1/admin/session")
def get_session() -> Response[str]:
    principal = authorize(app.current_event.raw_event, Permission.READ)
    return json_response(
        200,
        {
            "username": principal.username,
            "roles": list(principal.roles),
            "permissions": sorted(p.value for p in Permission if principal.may(p)),
            "expires_at": principal.expires_at,
            "auth_time": principal.auth_time,
            "source_ip": principal.source_ip,
        },
    )


handler = api_handler(app)
