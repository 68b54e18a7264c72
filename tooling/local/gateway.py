"""The local API Gateway: HTTP (Starlette + uvicorn) -> REST proxy event (payload 1.0, from the one
builder, shared/api/proxy_event.py) -> the same `handler(event, context)` of
functions/<name>/handler.py that Lambda calls -> HTTP.

Routes come from shared/api/openapi.yaml (operation -> `x-ticketguard-function`). Like API Gateway,
it answers before any function runs: unknown route 404, wrong method 405 (with Allow), oversize
body 413, missing or unknown API key 403, a key calling an operation its usage plan does not list
403 (not counted against throttle or quota), usage-plan throttle 429 (a token bucket per key with the
plan's rate and burst, from shared/api/usage_plans.yaml) and quota 429. Every such answer carries
the API's error body, with the status and code of the document's table of gateway responses
(`x-ticketguard-gateway-responses`, which the CDK stack deploys too).
"""

from __future__ import annotations

import base64
import functools
import importlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.api.answers import out_of_plan_message, receipt
from shared.api.errors import error_body
from shared.api.proxy_event import rest_proxy_event
from shared.api.spec import Operation, gateway_responses, match_path
from shared.api.usage_plans import UsagePlan, UsagePlans, load_usage_plans
from shared.config import get_settings
from shared.errors import Unauthorized
from shared.ingest.consumer import message_attributes, queued_batch
from shared.ingest.validation import IngestBatch
from shared.observability import logger
from tooling.local.issuer import LocalIssuer, sign_in_routes
from tooling.local.logkeys import under_own_name
from tooling.local.queue import DirectoryQueue, QueueDrainer

STAGE = "local"
FUNCTION_TIMEOUT_S = 10.0
FUNCTION_CONCURRENCY = 40  # worker threads per function
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_QUOTA_PERIOD_S = {"DAY": 86_400, "WEEK": 7 * 86_400, "MONTH": 30 * 86_400}


def gateway_answer(response_type: str, **values: Any) -> tuple[int, dict[str, Any]]:
    """Status and error body of one of the gateway's own answers, from openapi.yaml's table; `values`
    fill its message."""
    response = gateway_responses()[response_type]
    if response.status is None:
        raise ValueError(f"gateway response {response_type} has no status of its own")
    return response.status, error_body(response.code, response.message.format(**values), response.field)


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


class TokenBucket:
    """API Gateway's throttle: `rate` tokens/s refill a bucket of `burst`; a request takes one."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


@dataclass
class _KeyState:
    name: str  # the event's apiKeyId (API Gateway puts the key's id there)
    plan: UsagePlan
    bucket: TokenBucket
    quota_used: int = 0
    quota_started: float = field(default_factory=time.monotonic)


class ApiKeyGuard:
    """API keys and usage plans as API Gateway applies them (per key: throttle, then quota), and the
    plan's operations, which API Gateway cannot enforce per method (see shared/api/access.py)."""

    def __init__(self, plans: UsagePlans) -> None:
        self._states: dict[str, _KeyState] = {}
        for plan in plans.usage_plans:
            for key in plan.api_keys:
                self._states[key.local_value] = _KeyState(
                    key.name, plan, TokenBucket(plan.throttle.rate_limit, plan.throttle.burst_limit)
                )
        self._lock = threading.Lock()

    def key_id(self, api_key: str | None) -> str | None:
        """The name of a valid key (what the event carries as its apiKeyId), else None."""
        state = self._states.get(api_key or "")
        return state.name if state is not None else None

    def check(
        self, api_key: str | None, operation: Operation
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """None when the request may pass, else (status, error body, headers)."""
        state = self._states.get(api_key or "")
        if state is None:
            return *gateway_answer("INVALID_API_KEY"), {}
        if not state.plan.allows(operation.operation_id):
            described = f"{operation.operation_id} ({operation.method} {operation.path})"
            return 403, error_body("forbidden", out_of_plan_message(described)), {}
        wait_s = state.bucket.take()
        if wait_s > 0:
            return *gateway_answer("THROTTLED"), {"Retry-After": str(max(1, int(wait_s + 0.999)))}
        quota = state.plan.quota
        if quota is not None:
            with self._lock:
                period = _QUOTA_PERIOD_S[quota.period]
                now = time.monotonic()
                if now - state.quota_started >= period:
                    state.quota_started, state.quota_used = now, 0
                if state.quota_used >= quota.limit:
                    retry = int(state.quota_started + period - now) + 1
                    return *gateway_answer("QUOTA_EXCEEDED"), {"Retry-After": str(retry)}
                state.quota_used += 1
        return None


def _load_handler(function: str) -> Handler:
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
        queue, _load_handler("ingest"), lambda: LocalLambdaContext("ingest", str(uuid.uuid4()), timeout_s=900)
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


class LocalGateway:
    """The Starlette application; one instance per server."""

    def __init__(
        self,
        usage_plans: UsagePlans | None = None,
        *,
        max_body_bytes: int | None = None,
        handlers: dict[str, Handler] | None = None,
        queues: dict[str, DirectoryQueue] | None = None,
    ) -> None:
        self.keys = ApiKeyGuard(usage_plans or load_usage_plans())
        self.queues: dict[str, DirectoryQueue] = dict(queues or {})
        self.max_body_bytes = max_body_bytes or get_settings().max_body_bytes
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self.app = Starlette(
            routes=[
                *sign_in_routes(lambda: self.issuer),
                Route(
                    "/{path:path}",
                    self._dispatch,
                    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                ),
            ]
        )

    def _workers(self, function: str) -> anyio.CapacityLimiter:
        """Each function has its own workers, as each Lambda function has its own concurrency: a
        flood of slow scoring requests cannot make /health wait for a thread."""
        limiter = self._limiters.get(function)
        if limiter is None:
            limiter = self._limiters[function] = anyio.CapacityLimiter(FUNCTION_CONCURRENCY)
        return limiter

    @functools.cached_property
    def issuer(self) -> LocalIssuer:
        return LocalIssuer()  # the local admin user pool (its key is made on first use)

    def handler_for(self, function: str) -> Handler:
        handler = self._handlers.get(function)
        if handler is None:
            handler = self._handlers[function] = _load_handler(function)
        return handler

    @staticmethod
    def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(body, status_code=status, headers=headers)

    @classmethod
    def _answer(cls, response_type: str, headers: dict[str, str] | None = None, **values: Any) -> Response:
        """One of the gateway's own answers (openapi.yaml's x-ticketguard-gateway-responses)."""
        return cls._error(*gateway_answer(response_type, **values), headers)

    async def _read_body(self, request: Request, limit: int) -> bytes | None:
        """The body, or None when it exceeds `limit` (stops reading as soon as it does)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _dispatch(self, request: Request) -> Response:
        arrived_at = datetime.now(UTC)  # requestTimeEpoch: the scoring budget counts from here
        route = match_path(request.url.path)
        if route is None:
            return self._answer("MISSING_AUTHENTICATION_TOKEN", path=request.url.path)
        operation = route.operations.get(request.method)
        if operation is None:
            allowed = ", ".join(sorted(route.operations))
            return self._answer(
                "METHOD_NOT_ALLOWED", {"Allow": allowed}, method=request.method, allowed=allowed
            )
        if operation.requires_api_key and len(request.headers.getlist("x-api-key")) > 1:
            # Which of two keys would be checked, and which one would reach the function? Neither.
            return self._error(403, error_body("forbidden", "send exactly one x-api-key header", "x-api-key"))
        if operation.requires_api_key:
            refusal = self.keys.check(request.headers.get("x-api-key"), operation)
            if refusal is not None:
                status, error, headers = refusal
                return self._error(status, error, headers)
        claims = None
        if operation.requires_admin_token:  # API Gateway's Cognito authorizer
            try:
                claims = self.issuer.verify(request.headers.get("authorization"))
            except Unauthorized as exc:
                return self._answer("UNAUTHORIZED", reason=exc.message)
        limit = operation.max_body_bytes or self.max_body_bytes
        try:
            body = await self._read_body(request, limit)
        except ClientDisconnect:
            # The client gave up mid-upload: nobody is left to answer. One quiet line, no traceback
            # (an aborted upload is routine, and a flood of them must not flood the log).
            logger.debug(
                "client disconnected before sending its whole body", extra={"path": request.url.path}
            )
            return self._answer("CLIENT_DISCONNECTED")
        if body is None:
            return self._answer("REQUEST_TOO_LARGE", limit=limit)
        request_id = str(uuid.uuid4())
        api_key_id = self.keys.key_id(request.headers.get("x-api-key"))  # the key checked above
        if operation.queue is not None:
            return self._enqueue(operation.queue, request, body, request_id, api_key_id, arrived_at)
        event = rest_proxy_event(
            operation.method,
            operation.path,
            request.url.path,
            # the connection's address, like API Gateway's sourceIp: never a forwarded header
            source_ip=request.client.host if request.client else "127.0.0.1",
            headers=request.headers.items(),
            query=request.query_params.multi_items(),
            path_parameters=route.path_parameters,
            body=body,
            api_key_id=api_key_id,
            arrived_at=arrived_at,
            request_id=request_id,
            stage=STAGE,
            protocol=f"HTTP/{request.scope.get('http_version', '1.1')}",
            authorizer_claims=claims,
        )
        context = LocalLambdaContext(operation.function, request_id)
        try:
            result = await anyio.to_thread.run_sync(
                self.handler_for(operation.function),
                event,
                context,
                limiter=self._workers(operation.function),
            )
        except Exception:
            # Lambda's unhandled error: API Gateway answers 502; never the trace.
            logger.exception("function raised", extra={"function": operation.function})
            return self._answer("FUNCTION_FAILED")
        response = to_http(result)
        response.headers["x-amzn-requestid"] = request_id
        return response

    def _enqueue(
        self,
        queue_name: str,
        request: Request,
        body: bytes,
        request_id: str,
        api_key_id: str | None,
        arrived_at: datetime,
    ) -> Response:
        """What API Gateway's SQS integration does (infra/ingest.py): the request validator checks the
        body against the document's schema, the body goes on the queue whole, 202 with the batch's id."""
        # Exactly application/json (absent: read as it), not shared.api.http's "+json" rule: the
        # integration has a request template for application/json only, and answers 415 to the rest.
        content_type = request.headers.get("content-type")
        media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            return self._error(
                415,
                error_body("unsupported_media_type", f"content type {media_type!r} is not application/json"),
            )
        try:
            IngestBatch.model_validate_json(body)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"]) or "body"
            return self._answer_with("BAD_REQUEST_BODY", f"{where}: {error['msg']}")
        queue = self.queues.get(queue_name)
        if queue is None:
            return self._error(
                503, error_body("dependency_unavailable", f"the {queue_name} queue is not running")
            )
        batch = queued_batch(
            body.decode("utf-8"), batch_id=request_id, received_at=arrived_at, api_key_id=api_key_id
        )
        queue.send(batch.body, message_attributes(batch))
        response = JSONResponse(receipt(request_id), status_code=202)
        response.headers["x-amzn-requestid"] = request_id
        return response

    @classmethod
    def _answer_with(cls, response_type: str, message: str) -> Response:
        status, body = gateway_answer(response_type)
        body["error"]["message"] = message
        return cls._error(status, body)


@dataclass
class RunningGateway:
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)


def make_server(gateway: LocalGateway, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        gateway.app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # access lines hold client IPs in clear; the handlers log, redacted
        lifespan="off",
        timeout_graceful_shutdown=5,
        # The client address is the connection's, like API Gateway's sourceIp: X-Forwarded-For and
        # Forwarded from a local client must not choose the IP that rate limits and blocklists see.
        proxy_headers=False,
    )
    return uvicorn.Server(config)


def start_in_thread(
    gateway: LocalGateway | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningGateway:
    """Serve in a background thread (tests, the benchmark); port 0 picks a free port."""
    import socket

    gateway = gateway or LocalGateway()
    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    server = make_server(gateway, host, port)
    thread = threading.Thread(target=server.run, name="local-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the local gateway did not start on {host}:{port}")
        time.sleep(0.02)
    return RunningGateway(server, thread, host, port)


def serve(gateway: LocalGateway, host: str, port: int) -> None:
    """Serve in this (main) thread until SIGINT/SIGTERM; uvicorn re-raises the signal afterwards."""
    make_server(gateway, host, port).run()


USAGE_PLANS_ENV = "TG_LOCAL_USAGE_PLANS"


def create_app() -> Starlette:
    """App factory for multi-process serving (each worker builds its own gateway; usage plans from
    the file named by TG_LOCAL_USAGE_PLANS, else shared/api/usage_plans.yaml)."""
    import os

    path = os.environ.get(USAGE_PLANS_ENV)
    return LocalGateway(load_usage_plans(Path(path)) if path else None).app


def main(argv: list[str] | None = None) -> int:
    """Serve the gateway alone (DATABASE_URL / REDIS_URL from the environment); the benchmark runs
    it this way, in its own process(es). `ticketguard run` is the way to start the whole stack.

    `--workers N` runs N processes, as Lambda runs concurrent instances; throttling is then per
    process (N token buckets), so keep 1 where exact usage-plan throttling matters."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m tooling.local.gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--usage-plans", default=None, help="another usage_plans.yaml")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.usage_plans:
        os.environ[USAGE_PLANS_ENV] = args.usage_plans
    uvicorn.run(
        "tooling.local.gateway:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # as make_server: the connection's address, never a forwarded header
    )
    return 0


__all__ = ["LocalGateway", "LocalLambdaContext", "RunningGateway", "serve", "start_in_thread"]


if __name__ == "__main__":
    import sys

    sys.exit(main())
