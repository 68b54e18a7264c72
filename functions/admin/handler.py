"""/api/v1/admin/...: the admin surface behind the admins' Cognito authorizer (MFA) and RBAC.

Thin: each route reads its input and hands shared.admin the work; shared.admin.calls checks the caller,
runs the work as the service role and writes the audit row in the same transaction."""

from __future__ import annotations

from functions.admin import lists, records, review
from shared.api.lambda_app import api_app, api_handler

app = api_app()
for module in (review, lists, records):
    app.include_router(module.router)

handler = api_handler(app)
