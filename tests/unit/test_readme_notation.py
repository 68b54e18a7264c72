"""The README's `# expect:` notation (tests/fixtures/readme.py), on recorded curl output: what it accepts
and what it refuses, without a server."""

from __future__ import annotations

from tests.fixtures import readme

VERSION = "v20261125.200850"
APPROVED = (
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n"
    '{"transaction_id":"demo-ok-1","fraud_score":0.003,"decision":"APPROVED","confidence":0.99,'
    f'"top_features":{{}},"model_version":"{VERSION}","scored_at":"2026-11-27T06:27:29.785903Z"}}'
)
BURST = "HTTP/1.1 200 OK\r\n" * 5 + "HTTP/1.1 429 Too Many Requests\r\nretry-after: 60\r\n"


def test_given_an_expect_line_with_continuations_then_statuses_headers_and_body_are_read() -> None:
    block = (
        "curl -si $API\n"
        '# expect: 200 {"decision": "APPROVED",\n'
        '#   "fraud_score": "<number>", "model_version": "<model version>"}\n'
        "\n"
        "for i in 1 2; do curl; done\n"
        "# expect: 200 x5, 429 Retry-After: 60\n"
    )
    first, second = readme.steps(block)
    assert first.commands == "curl -si $API"
    assert first.expect.statuses == [200]
    assert first.expect.body == {
        "decision": "APPROVED",
        "fraud_score": "<number>",
        "model_version": "<model version>",
    }
    assert second.expect.statuses == [200] * 5 + [429]
    assert second.expect.headers == {"retry-after": "60"}


def test_given_recorded_output_when_it_matches_then_no_problem() -> None:
    expect = readme.parse_expectation(
        '200 {"decision": "APPROVED", "fraud_score": "<number>", "top_features": {}, '
        '"model_version": "<model version>", "scored_at": "<date-time>"}'
    )
    assert readme.check(expect, APPROVED, VERSION) == []
    assert readme.check(readme.parse_expectation("200 x5, 429 Retry-After: 60"), BURST, VERSION) == []


def test_given_recorded_output_when_a_stated_value_differs_then_each_difference_is_named() -> None:
    assert readme.check(readme.parse_expectation('200 {"decision": "BLOCKED"}'), APPROVED, VERSION) == [
        "decision: expected 'BLOCKED', got 'APPROVED'"
    ]
    assert readme.check(
        readme.parse_expectation('200 {"model_version": "<model version>"}'), APPROVED, "v2"
    ) == [f"model_version: expected <model version>, got '{VERSION}'"]
    assert readme.check(readme.parse_expectation("200 x6"), BURST, VERSION) == [
        "statuses: expected [200, 200, 200, 200, 200, 200], got [200, 200, 200, 200, 200, 429]"
    ]
    assert readme.check(readme.parse_expectation("200 x5, 429 Retry-After: 59"), BURST, VERSION) == [
        "header retry-after: expected '59', got '60'"
    ]
