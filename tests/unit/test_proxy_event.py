"""One builder of REST proxy events (shared/api/proxy_event.py), used by the local gateway, the test
fixtures and the benchmark."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx

from shared.api.proxy_event import rest_proxy_event
from shared.api.spec import operations
from shared.api.usage_plans import ApiKey, Throttle, UsagePlan, UsagePlans
from tooling.local.gateway import LocalGateway

ROOT = Path(__file__).resolve().parents[2]
PREDICT = "/api/v1/ml/predict/fraud"
KEY = "p" * 24
ARRIVED = datetime(2026, 3, 2, 10, 11, 12, 345000, tzinfo=UTC)


def test_given_a_request_when_built_then_it_is_a_rest_proxy_event_payload_1_0() -> None:
    event = rest_proxy_event(
        "post",
        PREDICT,
        PREDICT,
        source_ip="198.51.100.7",
        headers=[("x-api-key", KEY), ("x-dup", "1"), ("x-dup", "2"), ("user-agent", "ua/1")],
        query=[("a", "1"), ("a", "2")],
        body=b"\xff\xfe",
        api_key_id="marketplace-backend",
        arrived_at=ARRIVED,
        request_id="rid",
    )
    assert (event["httpMethod"], event["resource"], event["path"]) == ("POST", PREDICT, PREDICT)
    assert event["headers"]["x-dup"] == "2" and event["multiValueHeaders"]["x-dup"] == ["1", "2"]
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["isBase64Encoded"] is True and event["body"] == "//4="
    context = event["requestContext"]
    assert context["requestTimeEpoch"] == 1772446272345
    assert context["requestTime"] == "02/Mar/2026:10:11:12 +0000"
    assert context["requestId"] == context["extendedRequestId"] == "rid"
    assert context["resourceId"] == "predictFraud" and context["path"] == f"/local{PREDICT}"
    assert context["identity"]["sourceIp"] == "198.51.100.7"
    assert context["identity"]["apiKey"] == KEY
    assert context["identity"]["apiKeyId"] == "marketplace-backend"
    assert context["identity"]["userAgent"] == "ua/1"


def test_given_an_anonymous_operation_when_built_then_no_api_key_reaches_the_function() -> None:
    event = rest_proxy_event(
        "GET", "/health", "/health", source_ip="127.0.0.1", headers={"x-api-key": KEY}, api_key_id="k"
    )
    assert event["requestContext"]["identity"]["apiKey"] is None
    assert event["requestContext"]["identity"]["apiKeyId"] is None
    assert event["body"] is None and event["queryStringParameters"] is None


def test_given_the_local_gateway_when_it_forwards_a_request_then_its_event_is_the_builders() -> None:
    # Given the local gateway in front of a function that records its event
    events: list[dict[str, Any]] = []

    def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "body": "{}"}

    plans = UsagePlans(
        usage_plans=[
            UsagePlan(
                name="p",
                throttle=Throttle(rate_limit=100, burst_limit=100),
                api_keys=[ApiKey(name="p-key", local_value=KEY)],
                operations=["predictFraud"],
            )
        ]
    )
    gateway = LocalGateway(plans, handlers={op.function: record for op in operations()})
    headers = [("x-api-key", KEY), ("content-type", "application/json"), ("x-forwarded-for", "1.2.3.4")]

    async def post() -> None:
        transport = httpx.ASGITransport(app=gateway.app, client=("198.51.100.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
            await client.post(f"{PREDICT}?a=1", content=b'{"x": 1}', headers=headers)

    # When a request passes through it
    anyio.run(post)
    [event] = events
    # Then the function got what the builder makes of that request: the connection's address (never
    # the forwarded one), the key's name as its id, the arrival time
    context = event["requestContext"]
    expected = rest_proxy_event(
        "POST",
        PREDICT,
        PREDICT,
        source_ip="198.51.100.7",
        headers=[(name, value) for name, values in event["multiValueHeaders"].items() for value in values],
        query=[("a", "1")],
        body=b'{"x": 1}',
        api_key_id="p-key",
        arrived_at=datetime.fromtimestamp(context["requestTimeEpoch"] / 1000, UTC),
        request_id=context["requestId"],
    )
    assert json.dumps(event, sort_keys=True) == json.dumps(expected, sort_keys=True)


def _proxy_event_literals(path: Path) -> list[int]:
    """Lines of dict literals that spell out a proxy event (httpMethod and requestContext keys)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            keys = {key.value for key in node.keys if isinstance(key, ast.Constant)}
            if {"httpMethod", "requestContext"} <= keys:
                lines.append(node.lineno)
    return lines


def test_given_the_gateway_the_fixtures_and_the_benchmark_then_none_builds_a_proxy_event_of_its_own() -> None:
    builders = {
        str(path.relative_to(ROOT)): lines
        for root in ("shared", "functions", "benchmarks", "tests/fixtures")
        for path in sorted((ROOT / root).rglob("*.py"))
        if (lines := _proxy_event_literals(path))
    }
    assert builders == {"shared/api/proxy_event.py": builders.get("shared/api/proxy_event.py", [])}
    assert builders["shared/api/proxy_event.py"]
