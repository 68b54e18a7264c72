"""The local API Gateway: routes from the OpenAPI document, REST proxy events (payload 1.0),
API keys and usage-plan throttling, gateway-level errors."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import httpx
import pytest

from shared.api.spec import Operation, load_openapi, match_path, operations
from shared.api.usage_plans import ApiKey, Throttle, UsagePlan, UsagePlans, load_usage_plans
from tooling.local.gateway import ApiKeyGuard, LocalGateway, TokenBucket, start_in_thread

KEY = "k" * 24
METRICS_ONLY_KEY = "m" * 24
KEYED_OPERATIONS = ["predictFraud", "getMetrics", "getHealthDetails"]


def _operation(operation_id: str) -> Operation:
    return next(op for op in operations() if op.operation_id == operation_id)


def _plans(rate: float = 1000, burst: int = 1000) -> UsagePlans:
    return UsagePlans(
        usage_plans=[
            UsagePlan(
                name="test",
                throttle=Throttle(rate_limit=rate, burst_limit=burst),
                api_keys=[ApiKey(name="t", local_value=KEY)],
                operations=KEYED_OPERATIONS,
            ),
            UsagePlan(
                name="metrics-only",
                throttle=Throttle(rate_limit=rate, burst_limit=burst),
                api_keys=[ApiKey(name="m", local_value=METRICS_ONLY_KEY)],
                operations=["getMetrics"],
            ),
        ]
    )


class Recorder:
    """A handler that answers with the event it received (to inspect what the gateway built)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.contexts.append(context)
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "body": json.dumps({"ok": True}),
            "isBase64Encoded": False,
        }


@pytest.fixture(params=[False, True], ids=["threads", "inline"])
def recorder_gateway(request: pytest.FixtureRequest) -> Any:
    # Both ways of running a function: on its threads, and in the event loop's thread (the pre-forked
    # workers' way, issue 29): the gateway answers the same.
    recorder = Recorder()
    handlers = {op.function: recorder for op in operations()}
    gateway = LocalGateway(_plans(), max_body_bytes=1024, handlers=handlers, inline=request.param)
    running = start_in_thread(gateway)
    try:
        yield running.url, recorder
    finally:
        running.stop()


def test_given_openapi_document_when_routes_read_then_each_names_an_existing_handler() -> None:
    # Given the one API document, Then every operation maps to a function module exposing handler()
    ops = operations()
    # (the admin surface: its own routes under /api/v1/admin/, each behind the admin authorizer)
    assert all(op.path.startswith("/api/v1/admin/") == op.requires_admin_token for op in ops)
    assert {(op.method, op.path) for op in ops if not op.requires_admin_token} == {
        ("POST", "/api/v1/ml/predict/fraud"),
        ("POST", "/api/v1/events"),
        ("GET", "/api/v1/metrics"),
        ("GET", "/health"),
        ("GET", "/health/details"),
        ("GET", "/api/v1/events/batches/{batch_id}"),
        # the monitoring page's shell and files (no data in them; its data routes are admin routes)
        ("GET", "/admin/monitoring"),
        ("GET", "/admin/monitoring/assets/{name}"),
        ("POST", "/api/v1/pricing/assignments"),
        ("GET", "/api/v1/pricing/experiment"),
    }
    for op in ops:
        # a queued operation is drained by its queue's consumer, functions/<queue>/handler.py
        module = op.function or op.queue
        assert callable(importlib.import_module(f"functions.{module}.handler").handler)
    assert {op.path for op in ops if op.requires_api_key} == {
        "/api/v1/ml/predict/fraud",
        "/api/v1/events",
        "/api/v1/events/batches/{batch_id}",
        "/api/v1/metrics",
        "/api/v1/pricing/assignments",
        "/api/v1/pricing/experiment",
        "/health/details",
    }
    assert load_openapi()["openapi"].startswith("3.0")


def test_given_path_template_when_matched_then_parameters_extracted() -> None:
    assert match_path("/health") is not None
    assert match_path("/nowhere") is None


def test_given_request_when_forwarded_then_handler_gets_rest_proxy_event(recorder_gateway: Any) -> None:
    url, recorder = recorder_gateway
    # When a client posts JSON with a query string and a repeated header
    response = httpx.post(
        f"{url}/api/v1/ml/predict/fraud?a=1&a=2&b=x",
        content=b'{"x": 1}',
        headers=[("x-api-key", KEY), ("content-type", "application/json"), ("x-dup", "1"), ("x-dup", "2")],
    )
    # Then the handler saw an API Gateway REST proxy event, payload 1.0
    event = recorder.events[-1]
    assert event["resource"] == "/api/v1/ml/predict/fraud"
    assert event["path"] == "/api/v1/ml/predict/fraud"
    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["multiValueHeaders"]["x-dup"] == ["1", "2"]
    assert event["pathParameters"] is None
    context = event["requestContext"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["apiKey"] == KEY
    assert context["identity"]["apiKeyId"] == "t"  # the key's name, where API Gateway puts its id
    assert context["stage"] == "local" and context["resourcePath"] == "/api/v1/ml/predict/fraud"
    assert context["httpMethod"] == "POST" and context["requestId"]
    # And a Lambda-like context with the same request id and time remaining
    lambda_context = recorder.contexts[-1]
    assert lambda_context.aws_request_id == context["requestId"]
    assert 0 < lambda_context.get_remaining_time_in_millis() <= 10_000
    # And the handler's result became the HTTP response, multi-value headers included
    assert response.status_code == 201 and response.json() == {"ok": True}
    assert response.headers.get_list("x-multi") == ["a", "b"]
    assert response.headers["x-amzn-requestid"] == context["requestId"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nothing", 404, "route_not_found"),
        ("DELETE", "/health", 405, "method_not_allowed"),
        ("GET", "/api/v1/ml/predict/fraud", 405, "method_not_allowed"),
    ],
)
def test_given_unknown_route_or_method_when_called_then_gateway_error(
    recorder_gateway: Any, method: str, path: str, status: int, code: str
) -> None:
    url, recorder = recorder_gateway
    response = httpx.request(method, url + path, headers={"x-api-key": KEY})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if status == 405:
        assert response.headers["allow"]
    assert recorder.events == []  # no function ran


def test_given_oversize_body_when_posted_then_413_without_calling_function(recorder_gateway: Any) -> None:
    url, recorder = recorder_gateway
    response = httpx.post(f"{url}/api/v1/ml/predict/fraud", content=b"x" * 2048, headers={"x-api-key": KEY})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert recorder.events == []


@pytest.mark.parametrize("key", [None, "wrong-key-wrong-key-wrong"])
def test_given_missing_or_wrong_key_when_protected_route_then_403(
    recorder_gateway: Any, key: str | None
) -> None:
    url, recorder = recorder_gateway
    headers = {"x-api-key": key} if key else {}
    response = httpx.get(f"{url}/api/v1/metrics", headers=headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert recorder.events == []


def test_given_public_route_when_no_key_then_function_called(recorder_gateway: Any) -> None:
    url, recorder = recorder_gateway
    assert httpx.get(f"{url}/health").status_code == 201
    assert recorder.events[-1]["requestContext"]["identity"]["apiKey"] is None
    assert recorder.events[-1]["requestContext"]["identity"]["apiKeyId"] is None


def test_given_burst_spent_when_more_requests_then_429_with_retry_after() -> None:
    # Given a plan with burst 3 and 0.5 request/s refill
    guard = ApiKeyGuard(_plans(rate=0.5, burst=3))
    results = [guard.check(KEY, _operation("predictFraud")) for _ in range(4)]
    # Then three pass and the fourth is throttled, told to wait about 2 s
    assert results[:3] == [None, None, None]
    refused = results[3]
    assert refused is not None
    status, body, headers = refused
    assert status == 429 and body["error"]["code"] == "throttled"
    assert headers["Retry-After"] == "2"


def test_given_token_bucket_when_time_passes_then_it_refills() -> None:
    bucket = TokenBucket(rate=1000, burst=1)
    assert bucket.take() == 0.0
    assert bucket.take() > 0
    time.sleep(0.01)  # 10 tokens' worth at 1000/s; capped at the burst of 1
    assert bucket.take() == 0.0


def test_given_shared_usage_plans_file_when_loaded_then_valid_and_keys_unique() -> None:
    plans = load_usage_plans()
    names = {plan.name for plan in plans.usage_plans}
    assert "marketplace-backend" in names
    for plan in plans.usage_plans:
        assert plan.throttle.burst_limit >= plan.throttle.rate_limit


def test_given_a_key_outside_its_plan_when_calling_an_operation_then_403_before_any_function(
    recorder_gateway: Any,
) -> None:
    url, recorder = recorder_gateway
    # Given a key whose plan lists getMetrics only, When it scores a purchase
    response = httpx.post(
        f"{url}/api/v1/ml/predict/fraud",
        json={"x": 1},
        headers={"x-api-key": METRICS_ONLY_KEY},
    )
    # Then the gateway refuses it, naming the operation, and no function ran
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "usage plan does not include predictFraud" in error["message"]
    assert recorder.events == []
    # And the same key still reads the metrics, its apiKeyId in the event
    assert httpx.get(f"{url}/api/v1/metrics", headers={"x-api-key": METRICS_ONLY_KEY}).status_code == 201
    assert recorder.events[-1]["requestContext"]["identity"]["apiKeyId"] == "m"


def test_given_out_of_plan_calls_when_checked_then_they_spend_no_throttle_token_or_quota() -> None:
    # Given a key with a burst of 2 whose plan lists getMetrics only
    guard = ApiKeyGuard(_plans(rate=0.001, burst=2))
    # When it calls an operation outside its plan many times
    refusals = [guard.check(METRICS_ONLY_KEY, _operation("predictFraud")) for _ in range(10)]
    # Then each is 403, and its burst is untouched for the operations it may call
    assert all(refusal is not None and refusal[0] == 403 for refusal in refusals)
    assert guard.check(METRICS_ONLY_KEY, _operation("getMetrics")) is None
    assert guard.check(METRICS_ONLY_KEY, _operation("getMetrics")) is None
    third = guard.check(METRICS_ONLY_KEY, _operation("getMetrics"))
    assert third is not None and third[0] == 429


@pytest.mark.parametrize(
    ("operations_listed", "message"),
    [
        (["getMetrics", "dropTables"], "dropTables is not an operationId"),
        (["getHealth"], "getHealth does not require an API key"),
        ([], "at least 1 item"),
    ],
)
def test_given_a_plan_listing_a_bad_operation_when_loaded_then_refused(
    operations_listed: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        UsagePlans(
            usage_plans=[
                UsagePlan(
                    name="bad",
                    throttle=Throttle(rate_limit=1, burst_limit=1),
                    api_keys=[ApiKey(name="b", local_value="b" * 24)],
                    operations=operations_listed,
                )
            ]
        )


def test_given_the_shared_usage_plans_then_the_dashboard_reads_metrics_and_health_details_only() -> None:
    plans = {plan.name: plan for plan in load_usage_plans().usage_plans}
    assert set(plans["dashboard"].operations) == {"getMetrics", "getHealthDetails"}
    assert set(plans["marketplace-backend"].operations) == {
        "predictFraud",
        "ingestEvents",
        "getIngestBatch",
        "getMetrics",
        "getHealthDetails",
        "assignPricing",
        "getPricingExperiment",
    }
