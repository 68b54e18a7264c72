"""What the scoring path tells CloudWatch (EMF, namespace TicketGuard, dimension service=ticketguard).

Metric names are a contract with the alarms of infra/ (monitoring construct):
  FraudRate        percent; 100 for a BLOCKED or MANUAL_REVIEW decision, 0 otherwise, one sample per
                   new decision: its Average over a period is the fraud rate of that period.
  ScoringLatency   milliseconds per scored request (p95 alarm).
  DegradedScoring  count; a decision made while Redis was unavailable (PostgreSQL served features).
  ScoredTransactions  count; one per new decision (replays excluded).
  FraudScore       the model's probability, one value per model decision (CloudWatch percentiles).
  Decision<Name>   count per decision: DecisionApproved, DecisionRequire2fa, DecisionManualReview,
                   DecisionBlocked.
  ScoreBucketNN    count; histogram of fraud scores in tenths: ScoreBucket00 = [0, 0.1) ... ScoreBucket09.
  ScoringReplayed, RateLimited, FailOpenDecisions, DependencyUnavailable: counts.
  RateLimitFallback   (emitted by shared/ratelimit/limiter.py, where the fallback is decided).
  UnparsableClientIp  count; a request whose client IP was missing or did not parse (counted under
                      one shared subject of the IP limit).
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from shared.observability import metrics
from shared.scoring.types import Decision, PredictResponse, Reason

_DECISION_METRIC = {
    Decision.APPROVED: "DecisionApproved",
    Decision.REQUIRE_2FA: "DecisionRequire2fa",
    Decision.MANUAL_REVIEW: "DecisionManualReview",
    Decision.BLOCKED: "DecisionBlocked",
}
FRAUD_DECISIONS = frozenset({Decision.BLOCKED, Decision.MANUAL_REVIEW})


def score_bucket(score: float) -> str:
    return f"ScoreBucket{min(9, max(0, int(score * 10))):02d}"


def record_decision(response: PredictResponse, latency_ms: float) -> None:
    metrics.add_metric(name="ScoringLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    if response.replayed:
        metrics.add_metric(name="ScoringReplayed", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="ScoredTransactions", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=_DECISION_METRIC[response.decision], unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="FraudRate",
        unit=MetricUnit.Percent,
        value=100.0 if response.decision in FRAUD_DECISIONS else 0.0,
    )
    if response.fraud_score is not None:
        metrics.add_metric(name="FraudScore", unit=MetricUnit.NoUnit, value=response.fraud_score)
        metrics.add_metric(name=score_bucket(response.fraud_score), unit=MetricUnit.Count, value=1)
    if response.degraded:
        metrics.add_metric(name="DegradedScoring", unit=MetricUnit.Count, value=1)
    if response.reason is Reason.FAIL_OPEN:
        metrics.add_metric(name="FailOpenDecisions", unit=MetricUnit.Count, value=1)


def record_count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
