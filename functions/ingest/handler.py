"""POST /api/v1/events: parse the batch -> shared.ingest -> 202 with a result per event.

For now the events are stored synchronously; in AWS the route is to become API Gateway -> SQS ->
this logic in a queue consumer (issue 11, not built yet)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from shared.api.access import require_allowed_api_key
from shared.api.http import json_response, parse_json_body
from shared.api.lambda_app import api_app, api_handler
from shared.ingest.service import ingest_events
from shared.ingest.validation import MAX_BATCH_BYTES, IngestBatch

app = api_app()


@app.post("/api/v1/events")
def post_events() -> Response[str]:
    require_allowed_api_key(app.current_event)
    batch = parse_json_body(app.current_event, IngestBatch, max_bytes=MAX_BATCH_BYTES)
    return json_response(202, ingest_events(batch.events))


handler = api_handler(app)
