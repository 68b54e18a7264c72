"""The gateway's own answers (quota, throttling, API key, unknown route, wrong method, too large, ...):
one table in openapi.yaml (`x-ticketguard-gateway-responses`), deployed by the CDK stack and answered
by the local gateway. These tests fail when the two gateways drift apart."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from infra.api import gateway_responses, load_document
from shared.api.spec import GATEWAY_RESPONSES_EXTENSION, operations
from shared.api.usage_plans import ApiKey, Quota, Throttle, UsagePlan, UsagePlans
from tooling.local.gateway import LocalGateway

pytestmark = pytest.mark.xdist_group("infra")

TABLE: dict[str, dict[str, Any]] = load_document()[GATEWAY_RESPONSES_EXTENSION]
KEY = "g" * 24
PREDICT = "/api/v1/ml/predict/fraud"


def _aws_answers(synth: Any) -> dict[str, tuple[str, str]]:
    """Response type -> (status, code) as the synthesized RestApi answers it."""
    [api] = synth.resources("AWS::ApiGateway::RestApi", stack="Service").values()
    body = api["Properties"]["Body"]
    assert GATEWAY_RESPONSES_EXTENSION not in body  # the table is ours, not API Gateway's
    answers = {}
    for name, response in body["x-amazon-apigateway-gateway-responses"].items():
        rendered = response["responseTemplates"]["application/json"].replace(
            "$context.error.messageString", json.dumps("API Gateway's message")
        )
        answers[name] = (response.get("statusCode", ""), json.loads(rendered)["error"]["code"])
    return answers


def _plans(*, burst: int = 1000, quota: int | None = None) -> UsagePlans:
    return UsagePlans(
        usage_plans=[
            UsagePlan(
                name="test",
                throttle=Throttle(rate_limit=0.001 if burst < 1000 else 1000, burst_limit=burst),
                quota=Quota(limit=quota, period="DAY") if quota else None,
                api_keys=[ApiKey(name="t", local_value=KEY)],
                operations=["predictFraud", "getMetrics", "getHealthDetails"],
            )
        ]
    )


class _Client:
    """Requests to one local gateway, in process (ASGI)."""

    def __init__(self, plans: UsagePlans, handler: Any = None) -> None:
        def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "body": "{}"}

        handlers = {op.function: handler or answer for op in operations()}
        self.gateway = LocalGateway(plans, max_body_bytes=64, handlers=handlers)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.gateway.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
                return await client.request(method, path, **kwargs)

        return anyio.run(call)


def _disconnected_upload() -> tuple[int, dict[str, Any]]:
    """A client that goes away before sending its body (raw ASGI: no HTTP client does that on cue)."""
    gateway = LocalGateway(_plans(), max_body_bytes=64, handlers={})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PREDICT,
        "raw_path": PREDICT.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-api-key", KEY.encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 3000),
    }
    anyio.run(gateway.app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)


def _local_answers() -> dict[str, tuple[int, dict[str, Any]]]:
    """Response type -> (status, body) as the local gateway answers it, each provoked once."""

    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    def answer(client: _Client, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = client.request(method, path, **kwargs)
        return response.status_code, response.json()

    keyed = {"headers": {"x-api-key": KEY}}
    throttled, quota, plain = _Client(_plans(burst=1)), _Client(_plans(quota=1)), _Client(_plans())
    assert throttled.request("GET", "/api/v1/metrics", **keyed).status_code == 200
    assert quota.request("GET", "/api/v1/metrics", **keyed).status_code == 200
    return {
        "MISSING_AUTHENTICATION_TOKEN": answer(plain, "GET", "/api/v1/nothing"),
        "METHOD_NOT_ALLOWED": answer(plain, "DELETE", "/health"),
        "UNAUTHORIZED": answer(plain, "GET", "/api/v1/admin/session"),  # no admin token
        "INVALID_API_KEY": answer(plain, "GET", "/api/v1/metrics"),
        "REQUEST_TOO_LARGE": answer(plain, "POST", PREDICT, content=b"x" * 65, **keyed),
        "THROTTLED": answer(throttled, "GET", "/api/v1/metrics", **keyed),
        "QUOTA_EXCEEDED": answer(quota, "GET", "/api/v1/metrics", **keyed),
        "CLIENT_DISCONNECTED": _disconnected_upload(),
        "FUNCTION_FAILED": answer(_Client(_plans(), failing), "GET", "/health"),
        "MALFORMED_FUNCTION_RESPONSE": answer(_Client(_plans(), lambda e, c: {}), "GET", "/health"),
    }


@pytest.fixture(scope="module")
def local_answers() -> dict[str, tuple[int, dict[str, Any]]]:
    return _local_answers()


def test_given_the_documents_table_when_synthesized_then_api_gateway_answers_each_type_with_its_status_and_code(
    dev_synth,
):
    expected = {
        name: (str(entry.get("status", "")), entry["code"])
        for name, entry in TABLE.items()
        if not entry.get("local_only")
    }
    assert _aws_answers(dev_synth) == expected
    assert gateway_responses(load_document()) == expected


def test_given_the_documents_table_when_the_local_gateway_refuses_then_each_answer_is_the_tables(
    local_answers,
):
    # Given every entry the local gateway answers (those with a message), When each is provoked
    assert set(local_answers) == {name for name, entry in TABLE.items() if "message" in entry}
    for name, (status, body) in local_answers.items():
        # Then its status and code are the table's, and its message is the table's message
        entry = TABLE[name]
        assert (status, body["error"]["code"]) == (entry["status"], entry["code"]), name
        prefix = entry["message"].split("{", 1)[0]
        assert body["error"]["message"].startswith(prefix), name
        assert body["error"].get("field") == entry.get("field"), name


def test_given_an_answer_both_gateways_give_when_compared_then_aws_and_local_agree(dev_synth, local_answers):
    aws = _aws_answers(dev_synth)
    shared = set(aws) & set(local_answers)
    assert {"QUOTA_EXCEEDED", "THROTTLED", "INVALID_API_KEY", "MISSING_AUTHENTICATION_TOKEN"} <= shared
    for name in shared:
        status, body = local_answers[name]
        assert aws[name] == (str(status), body["error"]["code"]), name


def test_given_a_used_up_quota_then_both_gateways_answer_429_quota_exceeded(dev_synth, local_answers):
    assert _aws_answers(dev_synth)["QUOTA_EXCEEDED"] == ("429", "quota_exceeded")
    status, body = local_answers["QUOTA_EXCEEDED"]
    assert (status, body["error"]["code"]) == (429, "quota_exceeded")
