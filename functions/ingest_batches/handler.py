"""GET /api/v1/events/batches/{batch_id}: what became of each event of a batch POST /api/v1/events
queued (404 while it is still queued, or for an id never answered)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.api.access import require_allowed_api_key
from shared.api.http import json_response
from shared.api.lambda_app import api_app, api_handler
from shared.api.models import BatchPath
from shared.db import get_pool
from shared.ingest.consumer import batch_outcome

app = api_app()


@app.get("/api/v1/events/batches/<batch_id>")
def get_batch(batch_id: str) -> Response[str]:
    require_allowed_api_key(app.current_event)
    path = BatchPath.model_validate({"batch_id": batch_id})
    with get_pool().connection() as conn:
        return json_response(200, batch_outcome(conn, path.batch_id))


handler = api_handler(app)
