"""What sits behind a route of the local gateway (tooling/local/gateway.py), as API Gateway integrates it:
a Lambda function (the proxy integration: its context object, its handler, its result mapped to HTTP)
or the ingest queue (the SQS integration: the request validator, the body queued whole, 202)."""

from __future__ import annotations

import base64
import importlib
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from shared.api.answers import receipt
from shared.api.errors import error_body
from shared.ingest.consumer import message_attributes, queued_batch
from shared.ingest.validation import IngestBatch
from tooling.local.gateway_keys import gateway_answer
from tooling.local.logkeys import under_own_name
from tooling.local.queue import DirectoryQueue, QueueDrainer

FUNCTION_TIMEOUT_S = 10.0
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LocalLambdaContext:
    """What Powertools and our handlers read from Lambda's context object."""

    def __init__(self, function_name: str, request_id: str, timeout_s: float = FUNCTION_TIMEOUT_S) -> None:
        self.function_name = f"ticketguard-{function_name}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{self.function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(function: str) -> Handler:
    """The function's Lambda handler, logging under its own name (tooling.local.logkeys)."""
    module = importlib.import_module(f"functions.{function}.handler")
    handler: Handler = under_own_name(module.handler)
    return handler


@contextmanager
def queue_consumers(root: Path) -> Iterator[dict[str, DirectoryQueue]]:
    """The local queues with their consumers running: the ingest queue under `root`, drained by
    functions/ingest/handler.py as Lambda's SQS event source would. For LocalGateway(queues=...)."""
    queue = DirectoryQueue(root / "ingest")
    drainer = QueueDrainer(
        queue, load_handler("ingest"), lambda: LocalLambdaContext("ingest", str(uuid.uuid4()), timeout_s=900)
    )
    drainer.start()
    try:
        yield {"ingest": queue}
    finally:
        drainer.stop()


def to_http(result: dict[str, Any]) -> Response:
    """Lambda proxy result -> HTTP response (API Gateway's 502 if the result is malformed)."""
    try:
        status = int(result["statusCode"])
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers: dict[str, str] = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        multi = result.get("multiValueHeaders") or {}
    except (KeyError, TypeError, ValueError):
        status, error = gateway_answer("MALFORMED_FUNCTION_RESPONSE")
        return JSONResponse(error, status_code=status)
    response = Response(content=raw, status_code=status, headers=headers)
    for name, values in multi.items():
        if name in headers:
            continue
        for value in values:
            response.headers.append(str(name), str(value))
    return response


def _answer_with(response_type: str, message: str) -> Response:
    status, body = gateway_answer(response_type)
    body["error"]["message"] = message
    return JSONResponse(body, status_code=status)


def enqueue(
    queue: DirectoryQueue | None,
    queue_name: str,
    content_type: str | None,
    body: bytes,
    request_id: str,
    api_key_id: str | None,
    arrived_at: datetime,
) -> Response:
    """What API Gateway's SQS integration does (infra/ingest.py): the request validator checks the
    body against the document's schema, the body goes on the queue whole, 202 with the batch's id."""
    # Exactly application/json (absent: read as it), not shared.api.http's "+json" rule: the
    # integration has a request template for application/json only, and answers 415 to the rest.
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        message = f"content type {media_type!r} is not application/json"
        return JSONResponse(error_body("unsupported_media_type", message), status_code=415)
    try:
        IngestBatch.model_validate_json(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        return _answer_with("BAD_REQUEST_BODY", f"{where}: {error['msg']}")
    if queue is None:
        message = f"the {queue_name} queue is not running"
        return JSONResponse(error_body("dependency_unavailable", message), status_code=503)
    batch = queued_batch(
        body.decode("utf-8"), batch_id=request_id, received_at=arrived_at, api_key_id=api_key_id
    )
    queue.send(batch.body, message_attributes(batch))
    response = JSONResponse(receipt(request_id), status_code=202)
    response.headers["x-amzn-requestid"] = request_id
    return response
