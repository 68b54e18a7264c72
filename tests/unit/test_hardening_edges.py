"""Issue 12, the small pieces: the circuit breaker's single probe, the request budget counted from
arrival, the pseudonym salt that is never a default, duplicate JSON keys, the per-process limiter."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.api.http import parse_json_body, request_deadline
from shared.api.models import PredictRequest
from shared.breaker import CircuitBreaker
from shared.config import Settings, get_settings
from shared.errors import ConfigurationError, ValidationFailed
from shared.observability import pii
from shared.ratelimit.fallback import LocalWindows
from tooling.local.gateway import LocalLambdaContext


def test_given_open_breaker_when_interval_ends_then_exactly_one_probe_goes_through() -> None:
    breaker = CircuitBreaker("t", open_s=0.05)
    breaker.failed()
    assert not breaker.allow()
    time.sleep(0.06)
    # When many callers arrive after the interval, Then one of them probes and the others fail fast
    allowed = [breaker.allow() for _ in range(10)]
    assert allowed.count(True) == 1
    # And the probe's success closes it for everyone
    breaker.succeeded()
    assert all(breaker.allow() for _ in range(5)) and not breaker.is_open


def test_given_probe_fails_when_it_reports_then_breaker_stays_open() -> None:
    breaker = CircuitBreaker("t", open_s=0.05)
    breaker.failed()
    time.sleep(0.06)
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow() and breaker.is_open


def _event(arrived_ms: float | None, body: str | None = None, headers: dict[str, str] | None = None) -> dict:
    return {
        "body": body,
        "headers": headers or {"content-type": "application/json"},
        "requestContext": {} if arrived_ms is None else {"requestTimeEpoch": arrived_ms},
    }


def test_given_request_queued_four_seconds_when_deadline_computed_then_one_second_is_left() -> None:
    # Given the default 5 s budget and a request that arrived 4 s ago
    arrived = (time.time() - 4.0) * 1000
    # When the handler computes its deadline, Then the 4 s spent waiting are counted
    left = (
        request_deadline(_event(arrived), LocalLambdaContext("score", "r", timeout_s=60))
        - time.perf_counter()
    )
    assert 0.8 < left < 1.2


def test_given_lambda_with_little_time_left_when_deadline_computed_then_the_context_caps_it() -> None:
    left = (
        request_deadline(_event(time.time() * 1000), LocalLambdaContext("score", "r", timeout_s=1))
        - time.perf_counter()
    )
    assert left < 1.0


def test_given_request_waited_past_its_budget_when_deadline_computed_then_already_passed() -> None:
    arrived = (time.time() - 30.0) * 1000
    assert (
        request_deadline(_event(arrived), LocalLambdaContext("score", "r", timeout_s=60))
        <= time.perf_counter()
    )


def test_given_deployed_environment_without_salt_when_settings_load_then_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_ENVIRONMENT", "prod")
    monkeypatch.delenv("TG_LOG_PII_SALT", raising=False)
    with pytest.raises(ConfigurationError, match="TG_LOG_PII_SALT"):
        Settings()


def test_given_no_configured_salt_when_local_then_a_generated_private_one_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no salt configured, locally
    monkeypatch.delenv("TG_LOG_PII_SALT", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    get_settings.cache_clear()
    pii._local_salt.cache_clear()
    # When pseudonyms are made
    first = pii.pseudonym("ip", "203.0.113.5")
    pii._local_salt.cache_clear()  # as another process of this machine would
    second = pii.pseudonym("ip", "203.0.113.5")
    # Then the salt is a generated secret, readable by its owner only, and stable on this machine
    salt_file = pii.local_salt_path()
    assert first == second
    salt = salt_file.read_text()
    assert len(salt) == 64 and salt != "ticketguard-local"
    assert stat.S_IMODE(os.stat(salt_file).st_mode) == 0o600
    # And a pseudonym is not the one the old in-source default gave
    import hashlib

    old = hashlib.sha256(b"ticketguard-local:203.0.113.5").hexdigest()[:10]
    assert first != f"<ip:{old}>"


def test_given_configured_salt_when_pseudonym_then_it_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_LOG_PII_SALT", "s" * 32)
    get_settings.cache_clear()
    import hashlib

    assert (
        pii.pseudonym("ip", "1.2.3.4")
        == "<ip:" + hashlib.sha256(f"{'s' * 32}:1.2.3.4".encode()).hexdigest()[:10] + ">"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            '{"transaction_id": "a", "transaction_id": "b", "wallet_address": "0x%s", "ticket_id": 1, "price_paid": 1}',
            "transaction_id",
        ),
        (
            '{"transaction_id": "a", "wallet_address": "0x%s", "ticket_id": 1, "ticket_id": 2, "price_paid": 1}',
            "ticket_id",
        ),
    ],
)
def test_given_duplicate_json_key_when_parsed_then_refused_naming_it(body: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_json_body(_event(None, body % ("ab" * 20)), PredictRequest)  # type: ignore[arg-type]
    assert refused.value.field == field


def test_given_no_content_type_when_parsed_then_read_as_json() -> None:
    body = json.dumps(
        {"transaction_id": "a", "wallet_address": "0x" + "ab" * 20, "ticket_id": 1, "price_paid": 1.0}
    )
    parsed = parse_json_body(_event(None, body, headers={}), PredictRequest)  # type: ignore[arg-type]
    assert parsed.transaction_id == "a"


def test_given_invalid_utf8_when_parsed_then_a_validation_error_not_a_crash() -> None:
    import base64

    event = {**_event(None), "body": base64.b64encode(b'{"a": "\xff"}').decode(), "isBase64Encoded": True}
    with pytest.raises(ValidationError):
        parse_json_body(event, PredictRequest)  # type: ignore[arg-type]


def test_given_local_windows_when_one_rule_refuses_then_no_window_counts_it() -> None:
    windows = LocalWindows()
    rules = [("ip", 10, 60), ("wallet", 2, 60)]
    results = [windows.hit(rules, now=100.0)[0] for _ in range(5)]
    assert results == [True, True, False, False, False]
    # Only the two accepted requests were counted against the IP
    assert [windows.hit([("ip", 10, 60)], now=101.0)[0] for _ in range(9)] == [True] * 8 + [False]
    # And the window slides: a minute later the wallet may buy again
    assert windows.hit(rules, now=160.5) == (True, 0, -1)


def test_given_many_subjects_when_over_capacity_then_memory_stays_bounded() -> None:
    windows = LocalWindows(max_keys=100)
    for i in range(1000):
        windows.hit([(f"k{i}", 5, 60)], now=1.0)
    assert len(windows._logs) == 100
