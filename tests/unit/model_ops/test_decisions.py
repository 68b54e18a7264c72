"""The model-ops job's decisions (shared/jobs/model_ops.py): emergency retraining, the watchdog's
verdict, the alarm events it accepts."""

from __future__ import annotations

import pytest

from shared.jobs.model_ops import OpsSettings, alarm_event, emergency_reason, judge
from shared.kpis.quality import QualityCounts


@pytest.mark.parametrize(
    ("drift", "drop", "expected"),
    [
        (0.16, None, "drift"),
        (0.15, None, None),  # "over 0.15"
        (None, 0.11, "detection_drop"),
        (0.05, 0.10, None),  # "more than 10%"
        (None, None, None),
    ],
)
def test_emergency_retraining_follows_the_spec_thresholds(
    drift: float | None, drop: float | None, expected: str | None
) -> None:
    found = emergency_reason(drift, drop)
    assert (found[0] if found else None) == expected


def counts(frauds: int, detected: int, legit: int, flagged: int) -> QualityCounts:
    return QualityCounts(
        scored=frauds + legit, frauds=frauds, frauds_detected=detected, legit=legit, legit_flagged=flagged
    )


OPS = OpsSettings(watchdog_min_frauds=20, watchdog_min_legit=200)


def test_given_a_candidate_that_detects_less_when_judged_then_worse() -> None:
    verdict, reasons = judge(counts(40, 20, 0, 0), counts(40, 30, 0, 0), OPS)
    assert verdict == "worse" and "detection 50.0%" in reasons[0]


def test_given_a_candidate_within_ten_percent_when_judged_then_ok() -> None:
    assert judge(counts(40, 28, 0, 0), counts(40, 30, 0, 0), OPS)[0] == "ok"  # 70% >= 75% x 0.9


def test_given_a_candidate_that_flags_honest_buyers_when_judged_then_worse() -> None:
    verdict, reasons = judge(counts(0, 0, 400, 40), counts(0, 0, 400, 4), OPS)
    assert verdict == "worse" and "false-positive rate 10.00%" in reasons[0]


def test_given_too_few_labels_when_judged_then_pending() -> None:
    assert judge(counts(19, 0, 199, 199), counts(19, 19, 199, 0), OPS) == ("pending", ["too few labels yet"])


def test_given_an_eventbridge_alarm_state_change_then_its_name_and_state_else_none() -> None:
    event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": "ticketguard-dev-model-drift", "state": {"value": "ALARM"}},
    }
    assert alarm_event(event) == ("ticketguard-dev-model-drift", "ALARM")
    assert alarm_event({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}) is None
