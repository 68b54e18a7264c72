"""Issue 22, finding 2: the ingest route's SQS integration tells a caller what SQS's refusal means, so that
a client never drops a batch it should send again. Every SQS error code SendMessage can answer goes
through the integration responses as API Gateway chooses them (an AWS integration's selectionPattern
matches the backend's HTTP status) and through the chosen mapping template, evaluated here (the
template's subset of VTL: #set, #if/#elseif/#else/#end, ==, ||, !, .contains, $input.path)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest

from infra.api import gateway_document, load_document
from infra.ingest import QueueIntegration

pytestmark = pytest.mark.xdist_group("infra")

PLAN_KEY, OTHER_KEY = "k1", "k9"

# SendMessage's errors as SQS documents them in its service model: the code its query protocol answers
# (the model's awsQueryError; the shape name where it has none) and the HTTP status, then the common
# errors of every AWS query API that apply (a message over the queue's limit is InvalidParameterValue).
SQS_ERRORS: dict[str, int] = {
    "InvalidMessageContents": 400,
    "AWS.SimpleQueueService.UnsupportedOperation": 400,
    "RequestThrottled": 403,
    "AWS.SimpleQueueService.NonExistentQueue": 400,
    "InvalidSecurity": 403,
    "KMS.DisabledException": 400,
    "KMS.InvalidStateException": 400,
    "KMS.NotFoundException": 400,
    "KMS.OptInRequired": 403,
    "KMS.ThrottlingException": 400,
    "KMS.AccessDeniedException": 400,
    "KMS.InvalidKeyUsageException": 400,
    "InvalidAddress": 404,
    "InvalidParameterValue": 400,
    "AccessDenied": 403,
    "AccessDeniedException": 400,
    "ThrottlingException": 400,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "OverLimit": 403,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    # the short names of the JSON protocol, should SQS answer in it
    "KmsThrottled": 400,
    "KmsAccessDenied": 400,
    "KmsDisabled": 400,
    "KmsInvalidKeyUsage": 400,
    "KmsNotFound": 400,
}
# What the caller must be told: (status, error code, Retry-After).
EXPECTED: dict[str, tuple[int, str, str | None]] = {
    "InvalidParameterValue": (413, "payload_too_large", None),
    "InvalidMessageContents": (400, "validation_error", None),
    "RequestThrottled": (429, "throttled", "1"),
    "ThrottlingException": (429, "throttled", "1"),
    "KMS.ThrottlingException": (503, "dependency_unavailable", "1"),
    "KmsThrottled": (503, "dependency_unavailable", "1"),
}
NOT_STORED = (503, "dependency_unavailable", "5")  # every other refusal: nothing stored, send it again


@functools.cache
def _integration() -> dict[str, Any]:
    queue = QueueIntegration(
        queue_name="ingest-q", account="123456789012", role_arn="arn:role", allowed_api_key_ids=PLAN_KEY
    )
    body, _ = gateway_document(
        load_document(),
        function_arns={},
        region="eu-west-1",
        partition="aws",
        user_pool_arn="arn:pool",
        queues={"ingest": queue},
    )
    return body["paths"]["/api/v1/events"]["post"]["x-amazon-apigateway-integration"]


def _select(responses: dict[str, Any], status: int) -> dict[str, Any]:
    """API Gateway's choice: the response whose selectionPattern matches the whole status, else default."""
    matches = [
        pattern for pattern in responses if pattern != "default" and re.fullmatch(pattern, str(status))
    ]
    assert len(matches) <= 1, matches
    return responses[matches[0]] if matches else responses["default"]


class Template:
    """Evaluates a mapping template of the subset the integration's templates use."""

    def __init__(self, body: dict[str, Any], api_key_id: str) -> None:
        self.body = body
        self.values: dict[str, str] = {"$context.identity.apiKeyId": api_key_id}
        self.overrides: dict[str, str] = {}

    def _path(self, match: re.Match[str]) -> str:
        value: Any = self.body
        for part in match.group(1).split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    def _string(self, text: str) -> str:
        text = re.sub(r"\$!input\.path\('([^']*)'\)", self._path, text)
        for name, value in sorted(self.values.items(), key=lambda item: -len(item[0])):
            text = text.replace(name, value)
        assert "$" not in text, text
        return text

    def _condition(self, text: str) -> bool:
        if text.startswith("!"):
            return not self._condition(text[1:])
        if " || " in text:
            return any(self._condition(part) for part in text.split(" || "))
        if match := re.fullmatch(r'(\$\w+)\.contains\("([^"]*)"\)', text):
            return self._string(match.group(2)) in self.values[match.group(1)]
        match = re.fullmatch(r'(\$\w+) == "([^"]*)"', text)
        assert match, f"not in the subset: {text}"
        return self.values[match.group(1)] == match.group(2)

    def render(self, template: str) -> str:
        out: list[str] = []
        stack: list[tuple[bool, bool]] = []  # (this branch runs, a branch already ran)
        for line in template.splitlines():
            running = all(runs for runs, _ in stack)
            if match := re.fullmatch(r"#(if|elseif)\((.*)\)", line):
                if match.group(1) == "if":
                    outer = running
                    taken = outer and self._condition(match.group(2))
                    stack.append((taken, taken or not outer))
                else:
                    _, done = stack.pop()
                    outer = all(runs for runs, _ in stack)
                    taken = outer and not done and self._condition(match.group(2))
                    stack.append((taken, done or taken))
            elif line == "#else":
                _, done = stack.pop()
                stack.append((not done and all(runs for runs, _ in stack), True))
            elif line == "#end":
                stack.pop()
            elif match := re.fullmatch(r'#set\((\$[\w.-]+) = "?(.*?)"?\)', line):
                if not running:
                    continue
                name, value = match.group(1), self._string(match.group(2))
                if name.startswith("$context.responseOverride."):
                    key = name.removeprefix("$context.responseOverride.")
                    assert key not in self.overrides, f"{key} overridden twice (API Gateway answers 5XX)"
                    self.overrides[key] = value
                else:
                    self.values[name] = value
            elif running:
                assert not line.startswith("#"), f"not in the subset: {line}"
                out.append(self._string(line))
        assert not stack
        return "\n".join(out)


def _answer(code: str, api_key_id: str) -> tuple[int, dict[str, Any], str | None]:
    """What the caller gets when SQS refuses with `code` (its documented status), as API Gateway would
    choose the integration response and render its template."""
    integration = _integration()
    response = _select(integration["responses"], SQS_ERRORS[code])
    body = {"Error": {"Code": code, "Message": "...", "Type": "Sender"}, "RequestId": "r-1"}
    template = Template(body, api_key_id)
    rendered = template.render(response["responseTemplates"]["application/json"])
    status = int(template.overrides.get("status", response["statusCode"]))
    return status, json.loads(rendered), template.overrides.get("header.Retry-After")


@pytest.mark.parametrize("code", sorted(SQS_ERRORS))
def test_given_each_sqs_refusal_when_a_plan_key_posts_then_the_caller_is_told_what_it_means(code):
    # Given SQS refusing SendMessage with `code` (and its documented HTTP status) for a key of the plan
    status, body, retry_after = _answer(code, PLAN_KEY)
    # Then: too large 413 (do not resend as is); throttled 429 with Retry-After; the key throttled,
    # disabled, missing or denied, the role denied, the queue missing: 503 "nothing stored, send it again"
    # with Retry-After; never a 413 for what the client should resend, never a 2xx
    assert (status, body["error"]["code"], retry_after) == EXPECTED.get(code, NOT_STORED)
    if status in (429, 503):
        assert "send" in body["error"]["message"] and "again" in body["error"]["message"]


@pytest.mark.parametrize("code", ["AWS.SimpleQueueService.UnsupportedOperation", "InvalidParameterValue"])
def test_given_a_key_outside_the_plan_when_sqs_refuses_its_action_then_403_names_the_key(code):
    # Given a key whose plan lacks the operation: the request template sent an action SQS refuses
    status, body, retry_after = _answer(code, OTHER_KEY)
    # Then 403 whatever SQS said, without Retry-After
    assert status == 403 and body["error"]["code"] == "forbidden" and retry_after is None
    assert body["error"]["field"] == "x-api-key"


def test_given_a_success_then_202_with_the_receipt_and_no_refusal_template_runs():
    integration = _integration()
    chosen = _select(integration["responses"], 200)
    assert chosen["statusCode"] == "202" and "$context.requestId" in json.dumps(chosen)


def test_given_the_answers_then_each_status_is_one_the_route_documents():
    # A status the operation does not declare would not be a documented answer of the public contract
    declared = set(load_document()["paths"]["/api/v1/events"]["post"]["responses"])
    for code in SQS_ERRORS:
        for key in (PLAN_KEY, OTHER_KEY):
            assert str(_answer(code, key)[0]) in declared, code
