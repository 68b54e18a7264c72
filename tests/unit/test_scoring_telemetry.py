"""The EMF metrics the alarms and the dashboard read (names are a contract with infra/monitoring.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.api.models import Decision, PredictResponse, Reason
from shared.observability import metrics
from shared.scoring.telemetry import record_decision, score_bucket


def _response(decision: Decision, score: float | None, *, degraded: bool = False, replayed: bool = False):
    return PredictResponse(
        transaction_id="t",
        fraud_score=score,
        decision=decision,
        confidence=0.8,
        top_features={},
        model_version="v",
        reason=Reason.MODEL,
        degraded=degraded,
        replayed=replayed,
        scored_at=datetime.now(UTC),
    )


@pytest.fixture(autouse=True)
def _fresh_metrics() -> None:
    # The Metrics object is process-wide: start from nothing (other tests may have added samples)
    metrics.clear_metrics()


def _flushed(capsys: pytest.CaptureFixture[str]) -> dict:
    metrics.flush_metrics()
    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 1
    document = json.loads(lines[0])
    # Powertools writes each metric's values as a list; one sample each here
    return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in document.items()}


def test_given_degraded_review_decision_when_recorded_then_emf_carries_alarm_metrics(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    # When a MANUAL_REVIEW decision made while Redis was down is recorded
    record_decision(_response(Decision.MANUAL_REVIEW, 0.73, degraded=True), latency_ms=4.2)
    emf = _flushed(capsys)
    # Then one EMF document in namespace TicketGuard holds what the alarms and dashboard read
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "TicketGuard"
    assert ["service"] in directive["Dimensions"]
    assert emf["FraudRate"] == 100.0 and emf["ScoringLatency"] == 4.2
    assert emf["DegradedScoring"] == 1.0 and emf["DecisionManualReview"] == 1.0
    assert emf["ScoredTransactions"] == 1.0 and emf["FraudScore"] == 0.73 and emf["ScoreBucket07"] == 1.0


def test_given_approved_then_replay_when_recorded_then_replay_not_counted_as_decision(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    record_decision(_response(Decision.APPROVED, 0.1, replayed=True), latency_ms=1.0)
    emf = _flushed(capsys)
    assert emf["ScoringReplayed"] == 1.0
    assert "FraudRate" not in emf and "ScoredTransactions" not in emf


@pytest.mark.parametrize(
    ("score", "name"), [(0.0, "ScoreBucket00"), (0.55, "ScoreBucket05"), (1.0, "ScoreBucket09")]
)
def test_given_scores_when_bucketed_then_tenths(score: float, name: str) -> None:
    assert score_bucket(score) == name
