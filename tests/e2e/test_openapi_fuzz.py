"""Schemathesis against shared/api/openapi.yaml, over HTTP to the local gateway and the real handlers,
as a client runs it (`schemathesis run shared/api/openapi.yaml --checks all`): every check, positive
data acceptance included. A schema-valid request must be accepted, unless it breaks a rule the
document states in a description because JSON Schema cannot (a window over 31 days, an address with a
wrong EIP-55 checksum): such a request must then get the documented 400 naming its field, checked
here against the rule computed independently of the server.

Without positive data acceptance, a server refusing valid requests passes: the document said
nullable-free strings while the server accepted null, and said nothing of the 31-day window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import hypothesis
import pytest
import schemathesis
from eth_utils import is_checksum_address
from schemathesis.checks import CHECKS

from shared.api.spec import OPENAPI_PATH
from tests.fixtures.api import Market

schema = schemathesis.openapi.from_path(OPENAPI_PATH)

POSITIVE_DATA_ACCEPTANCE = [c for c in CHECKS.get_all() if c.__name__ == "positive_data_acceptance"]
assert POSITIVE_DATA_ACCEPTANCE, "schemathesis no longer has the positive_data_acceptance check"

# The description-only rules of the document, as its descriptions state them.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
MAX_WINDOW = timedelta(days=31)
DEFAULT_WINDOW = timedelta(hours=24)
# A window this close to a rule's edge is left out: the server's clock is not this test's.
CLOCK_SLACK = timedelta(minutes=5)


def _instant(text: str) -> datetime | None:
    """The instant in UTC, None when outside what Python's datetime holds (then out of range too)."""
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T")).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _metrics_rule_broken(query: dict[str, Any]) -> str | bool | None:
    """The field a schema-valid metrics query is refused for by a described rule; None when none is
    broken; True when the query sits within the clock slack of a rule (not judged)."""
    now = datetime.now(UTC)
    given = {name: query[name] for name in ("start", "end") if name in query}
    instants = {}
    for name, text in given.items():
        instant = _instant(str(text))
        if instant is None or not EARLIEST <= instant <= LATEST:
            return name
        instants[name] = instant
    end = instants.get("end", now)
    start = instants.get("start", end - DEFAULT_WINDOW)
    # With a start alone the window ends at the server's now, not ours: mind the edges.
    clock_bound = "end" not in instants and "start" in instants
    if clock_bound and any(abs(edge) < CLOCK_SLACK for edge in (start - end, end - start - MAX_WINDOW)):
        return True
    if start >= end or end - start > MAX_WINDOW:
        return "start"
    return None


def _predict_rule_broken(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    wallet = body.get("wallet_address")
    if isinstance(wallet, str) and wallet[2:] != wallet[2:].lower() and not is_checksum_address(wallet):
        return "wallet_address"
    return None


def _pricing_rule_broken(body: Any) -> str | bool | None:
    """A floor above the ceiling: named when both are given; with one, the event's other guardrail
    (stored or the default) decides, which this test does not know (not judged)."""
    if not isinstance(body, dict):
        return None
    floor, ceiling = body.get("price_floor"), body.get("price_ceiling")
    if floor is not None and ceiling is not None:
        cents = [
            Decimal(str(v)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) for v in (floor, ceiling)
        ]
        return "price_floor" if cents[0] > cents[1] else None
    return True if (floor is not None or ceiling is not None) else None


def described_refusal(case: schemathesis.Case) -> str | bool | None:
    """For a positive (schema-valid) case: the field a described rule refuses it for, else None."""
    if case.operation.label == "GET /api/v1/metrics":
        return _metrics_rule_broken(dict(case.query or {}))
    if case.operation.label == "POST /api/v1/ml/predict/fraud":
        return _predict_rule_broken(case.body)
    if case.operation.label == "POST /api/v1/pricing/assignments":
        return _pricing_rule_broken(case.body)
    return None


@pytest.fixture
def fuzz_target(
    gateway_url: str, api_key: str, api_market: Market, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    # Rate limits have their own tests; here they would only turn generated requests into 429s.
    monkeypatch.setenv("TG_RATELIMIT_ENABLED", "false")
    return gateway_url, api_key


@schema.parametrize()
@hypothesis.settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_given_generated_requests_when_sent_then_every_check_holds(
    case: schemathesis.Case, fuzz_target: tuple[str, str]
) -> None:
    base_url, api_key = fuzz_target
    headers = {"x-api-key": api_key}
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    refusal = described_refusal(case) if positive else None
    if refusal is None:
        case.call_and_validate(base_url=base_url, headers=headers)
        return
    # A schema-valid request that breaks a rule only a description states: the documented 400
    response = case.call(base_url=base_url, headers=headers)
    case.validate_response(response, excluded_checks=POSITIVE_DATA_ACCEPTANCE)
    if refusal is not True:
        assert response.status_code == 400, response.text
        assert json.loads(response.text)["error"]["field"] == refusal, response.text
