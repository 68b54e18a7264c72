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

Two ways to run a function (`inline`): on a worker thread per request, each function with its own
threads (the default in one process: `ticketguard run`, the tests), or in the event loop's own thread,
one request at a time per process, as a Lambda instance runs one event at a time (the standalone
gateway's pre-forked workers, tooling/local/gateway_server.py: no thread hop, no GIL contention).
Keys and quotas: tooling/local/gateway_keys.py; the integrations: tooling/local/integrations.py.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.api.errors import error_body
from shared.api.proxy_event import rest_proxy_event
from shared.api.spec import Operation, RouteMatch, match_path, operations
from shared.api.usage_plans import UsagePlans, load_usage_plans
from shared.config import get_settings
from shared.errors import Unauthorized
from shared.observability import logger
from tooling.local.gateway_keys import ApiKeyGuard, TokenBucket, gateway_answer
from tooling.local.gateway_server import serve_forked, server_config
from tooling.local.integrations import (
    FUNCTION_TIMEOUT_S,
    Handler,
    LocalLambdaContext,
    enqueue,
    load_handler,
    queue_consumers,
    to_http,
)
from tooling.local.issuer import LocalIssuer, sign_in_routes
from tooling.local.queue import DirectoryQueue

STAGE = "local"
FUNCTION_CONCURRENCY = 40  # worker threads per function
USAGE_PLANS_ENV = "TG_LOCAL_USAGE_PLANS"
SERVERS = ("baseline", "forked")  # the standalone gateway's server models (main's --server)


@dataclass(frozen=True)
class _Admitted:
    """A request the gateway lets through to its integration."""

    route: RouteMatch
    operation: Operation
    body: bytes
    claims: dict[str, Any] | None
    api_key_id: str | None


class LocalGateway:
    """The Starlette application; one instance per server. `inline`: run each function in the event
    loop's thread (one request at a time per process) instead of a worker thread per request."""

    def __init__(
        self,
        usage_plans: UsagePlans | None = None,
        *,
        max_body_bytes: int | None = None,
        handlers: dict[str, Handler] | None = None,
        queues: dict[str, DirectoryQueue] | None = None,
        inline: bool = False,
    ) -> None:
        self.keys = ApiKeyGuard(usage_plans or load_usage_plans())
        self.queues: dict[str, DirectoryQueue] = dict(queues or {})
        self.max_body_bytes = max_body_bytes or get_settings().max_body_bytes
        self.inline = inline
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        self.app = Starlette(
            routes=[
                *sign_in_routes(lambda: self.issuer),
                Route("/{path:path}", self._dispatch, methods=methods),
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
            handler = self._handlers[function] = load_handler(function)
        return handler

    def preload(self) -> LocalGateway:
        """Import every routed function's handler now (before a fork: the workers share them)."""
        for operation in operations():
            if operation.function:
                self.handler_for(operation.function)
        return self

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
        admitted = await self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        request_id = str(uuid.uuid4())
        operation = admitted.operation
        if operation.queue is not None:
            return enqueue(
                self.queues.get(operation.queue),
                operation.queue,
                request.headers.get("content-type"),
                admitted.body,
                request_id,
                admitted.api_key_id,
                arrived_at,
            )
        return await self._invoke(request, admitted, request_id, arrived_at)

    async def _admit(self, request: Request) -> _Admitted | Response:
        """What API Gateway checks before any integration runs: route, method, API key and usage plan,
        the admin token, the body's size. A Response is the gateway's own answer."""
        route = match_path(request.url.path)
        if route is None:
            return self._answer("MISSING_AUTHENTICATION_TOKEN", path=request.url.path)
        operation = route.operations.get(request.method)
        if operation is None:
            allowed = ", ".join(sorted(route.operations))
            return self._answer(
                "METHOD_NOT_ALLOWED", {"Allow": allowed}, method=request.method, allowed=allowed
            )
        refused = self._check_key(request, operation)
        if refused is not None:
            return refused
        claims = None
        if operation.requires_admin_token:  # API Gateway's Cognito authorizer
            try:
                claims = self.issuer.verify(request.headers.get("authorization"))
            except Unauthorized as exc:
                return self._answer("UNAUTHORIZED", reason=exc.message)
        body = await self._body_within_limit(request, operation)
        if isinstance(body, Response):
            return body
        api_key_id = self.keys.key_id(request.headers.get("x-api-key"))  # the key checked above
        return _Admitted(route, operation, body, claims, api_key_id)

    def _check_key(self, request: Request, operation: Operation) -> Response | None:
        if not operation.requires_api_key:
            return None
        if len(request.headers.getlist("x-api-key")) > 1:
            # Which of two keys would be checked, and which one would reach the function? Neither.
            return self._error(403, error_body("forbidden", "send exactly one x-api-key header", "x-api-key"))
        refusal = self.keys.check(request.headers.get("x-api-key"), operation)
        if refusal is None:
            return None
        status, error, headers = refusal
        return self._error(status, error, headers)

    async def _body_within_limit(self, request: Request, operation: Operation) -> bytes | Response:
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
        return self._answer("REQUEST_TOO_LARGE", limit=limit) if body is None else body

    async def _invoke(
        self, request: Request, admitted: _Admitted, request_id: str, arrived_at: datetime
    ) -> Response:
        """The Lambda proxy integration: the event, the function (inline or on its threads), HTTP."""
        operation = admitted.operation
        event = rest_proxy_event(
            operation.method,
            operation.path,
            request.url.path,
            # the connection's address, like API Gateway's sourceIp: never a forwarded header
            source_ip=request.client.host if request.client else "127.0.0.1",
            headers=request.headers.items(),
            query=request.query_params.multi_items(),
            path_parameters=admitted.route.path_parameters,
            body=admitted.body,
            api_key_id=admitted.api_key_id,
            arrived_at=arrived_at,
            request_id=request_id,
            stage=STAGE,
            protocol=f"HTTP/{request.scope.get('http_version', '1.1')}",
            authorizer_claims=admitted.claims,
        )
        context = LocalLambdaContext(operation.function, request_id)
        handler = self.handler_for(operation.function)
        try:
            if self.inline:
                result = handler(event, context)
            else:
                limiter = self._workers(operation.function)
                result = await anyio.to_thread.run_sync(handler, event, context, limiter=limiter)
        except Exception:
            # Lambda's unhandled error: API Gateway answers 502; never the trace.
            logger.exception("function raised", extra={"function": operation.function})
            return self._answer("FUNCTION_FAILED")
        response = to_http(result)
        response.headers["x-amzn-requestid"] = request_id
        return response


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
    return uvicorn.Server(server_config(gateway.app, host, port))


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


def _usage_plans_from_env() -> UsagePlans | None:
    import os

    path = os.environ.get(USAGE_PLANS_ENV)
    return load_usage_plans(Path(path)) if path else None


def create_app() -> Starlette:
    """App factory for uvicorn's multi-process serving (`--server baseline`: each worker builds its own
    gateway; usage plans from the file named by TG_LOCAL_USAGE_PLANS, else shared/api/usage_plans.yaml)."""
    return LocalGateway(_usage_plans_from_env()).app


def main(argv: list[str] | None = None) -> int:
    """Serve the gateway alone (DATABASE_URL / REDIS_URL from the environment); the benchmarks run
    it this way, in its own process(es). `ticketguard run` is the way to start the whole stack.

    `--workers N` runs N processes, as Lambda runs concurrent instances; throttling is then per
    process (N token buckets), so keep 1 where exact usage-plan throttling matters. `--server baseline`
    (the default): uvicorn's workers, each function on worker threads; `--server forked` pre-forks them,
    each running one request at a time in its event loop's thread (gateway_server.py; measured slower on
    a loaded machine, docs/performance.md)."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m tooling.local.gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--usage-plans", default=None, help="another usage_plans.yaml")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--server", choices=SERVERS, default="baseline", help="the server model (default baseline)"
    )
    args = parser.parse_args(argv)
    if args.usage_plans:
        os.environ[USAGE_PLANS_ENV] = args.usage_plans
    if args.server == "forked":
        gateway = LocalGateway(_usage_plans_from_env(), inline=True).preload()
        return serve_forked(gateway.app, args.host, args.port, args.workers)
    # uvicorn kills a worker that does not answer its supervisor's ping in `timeout_worker_healthcheck`
    # seconds and starts another: at its 5 s default, a loaded machine (importing the handlers takes 5 s
    # at a load average of 8 on two cores) never gets a worker up.
    uvicorn.run(
        "tooling.local.gateway:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        timeout_worker_healthcheck=60,
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # as server_config: the connection's address, never a forwarded header
    )
    return 0


__all__ = [
    "FUNCTION_TIMEOUT_S",
    "ApiKeyGuard",
    "LocalGateway",
    "LocalLambdaContext",
    "RunningGateway",
    "TokenBucket",
    "gateway_answer",
    "queue_consumers",
    "serve",
    "start_in_thread",
    "to_http",
]


if __name__ == "__main__":
    import sys

    sys.exit(main())
