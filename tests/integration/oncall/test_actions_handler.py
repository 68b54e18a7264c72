"""The oncall_actions function on an EventBridge "CloudWatch Alarm State Change" (as the rule
ticketguard-<env>-oncall-actions delivers it), against a real PostgreSQL."""

from __future__ import annotations

import pytest

from functions.oncall_actions.handler import handler
from shared.errors import ValidationFailed
from tooling.local.gateway import LocalLambdaContext

CONTEXT = LocalLambdaContext("oncall_actions", "req-1")


def _event(alarm: str, state: str = "ALARM") -> dict:
    return {
        "version": "0",
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "time": "2026-03-02T12:00:00Z",
        "detail": {"alarmName": alarm, "state": {"value": state}, "previousState": {"value": "OK"}},
    }


def test_given_the_fraud_spike_alarm_then_the_function_tightens_two_factor(db) -> None:
    result = handler(_event("ticketguard-prod-fraud-rate-spike"), CONTEXT)
    assert result["action"] == "tighten-2fa" and result["adjustment"]["value"] == 0.30
    assert db.execute("select actor, source from oncall.threshold_adjustments").fetchall() == [
        ("fraud-rate-spike", "alarm")
    ]


def test_given_something_else_then_the_function_refuses_it_with_a_message(db) -> None:
    with pytest.raises(ValidationFailed, match="CloudWatch Alarm State Change"):
        handler({"detail-type": "Scheduled Event", "detail": {}}, CONTEXT)
