"""Score -> decision band, confidence, and the features that pushed the score up.

Boundary rule (spec 1.6 bands, thresholds from configuration):
  score > block       -> BLOCKED
  score > review      -> MANUAL_REVIEW
  score >= two_factor -> REQUIRE_2FA
  else                -> APPROVED
so a score exactly on `block` or `review` takes the milder band, and exactly on `two_factor`
already asks for 2FA ("0.40-0.65 REQUIRE_2FA, < 0.40 APPROVED").

The response carries the decision: `scored` for the model's, `unscored` for one made without a score
(a blocklisted wallet or IP, or fail-open while PostgreSQL is down): one builder each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.config import Thresholds
from shared.scoring.ports import ScoringModel
from shared.scoring.types import Decision, PredictResponse, Reason

TOP_FEATURES = 3


def decide(score: float, thresholds: Thresholds) -> Decision:
    if score > thresholds.block:
        return Decision.BLOCKED
    if score > thresholds.review:
        return Decision.MANUAL_REVIEW
    if score >= thresholds.two_factor:
        return Decision.REQUIRE_2FA
    return Decision.APPROVED


def confidence(score: float, thresholds: Thresholds) -> float:
    """Distance from the nearest decision boundary relative to the room the band gives, in [0.5, 1].

    Inner bands have two boundaries: 0.5 + 0.5 * min(s - lo, hi - s) / half-width.
    Outer bands (APPROVED, BLOCKED) have one: 0.5 + 0.5 * distance / width.
    """
    score = min(1.0, max(0.0, score))
    decision = decide(score, thresholds)
    if decision is Decision.APPROVED:
        width, distance = thresholds.two_factor, thresholds.two_factor - score
    elif decision is Decision.BLOCKED:
        width, distance = 1.0 - thresholds.block, score - thresholds.block
    else:
        low, high = (
            (thresholds.two_factor, thresholds.review)
            if decision is Decision.REQUIRE_2FA
            else (thresholds.review, thresholds.block)
        )
        width, distance = (high - low) / 2, min(score - low, high - score)
    if width <= 0:
        return 1.0
    return round(min(1.0, max(0.5, 0.5 + 0.5 * distance / width)), 4)


def top_features(
    contributions: Sequence[float],
    feature_names: Sequence[str],
    values: Mapping[str, float | None],
    limit: int = TOP_FEATURES,
) -> dict[str, float | None]:
    """The features with the largest positive contributions (bias excluded), with their values.

    Only features that pushed the score *up* are named; an approved transaction may name none.
    """
    pushes = [
        (contribution, name)
        for name, contribution in zip(feature_names, contributions, strict=False)
        if contribution > 0
    ]
    pushes.sort(key=lambda item: item[0], reverse=True)
    return {name: values.get(name) for _, name in pushes[:limit]}


@dataclass(frozen=True)
class ModelOutput:
    score: float  # rounded once, before deciding: the band always follows from the score the client sees
    contributions: list[float]


def model_score(model: ScoringModel, values: Mapping[str, float | None]) -> float:
    """The model's score of these feature values, as the client sees it (rounded once, in [0, 1])."""
    return _score(model, _vector(model, values))


def run_model(model: ScoringModel, values: Mapping[str, float | None]) -> ModelOutput:
    """The score and the per-feature contributions (the top features' source)."""
    vector = _vector(model, values)
    return ModelOutput(_score(model, vector), model.contributions(vector))


def _vector(model: ScoringModel, values: Mapping[str, float | None]) -> list[float | None]:
    return [values.get(name) for name in model.feature_names]


def _score(model: ScoringModel, vector: list[float | None]) -> float:
    return round(min(1.0, max(0.0, float(model.predict(vector)))), 6)


def scored(
    transaction_id: str,
    model: ScoringModel,
    output: ModelOutput,
    score: float,
    values: Mapping[str, float | None],
    thresholds: Thresholds,
    *,
    unavailable: Sequence[str],
    degraded: bool,
    at: datetime,
) -> PredictResponse:
    """The model's decision on `score` (the model's own, or as the cold-start guard moved it)."""
    return PredictResponse(
        transaction_id=transaction_id,
        fraud_score=score,
        decision=decide(score, thresholds),
        confidence=confidence(score, thresholds),
        top_features=top_features(output.contributions, model.feature_names, values),
        model_version=model.version,
        reason=Reason.MODEL,
        degraded=degraded,
        # the ones this model scores (the service computes more than an older model reads)
        unavailable_features=[name for name in unavailable if name in model.feature_names],
        replayed=False,
        scored_at=at,
    )


# A decision made without a score: the decision and its confidence, by reason.
UNSCORED: dict[Reason, tuple[Decision, float]] = {
    Reason.BLOCKLIST_WALLET: (Decision.BLOCKED, 1.0),
    Reason.BLOCKLIST_IP: (Decision.BLOCKED, 1.0),
    Reason.FAIL_OPEN: (Decision.REQUIRE_2FA, 0.0),
}


def unscored(
    transaction_id: str, reason: Reason, *, model_version: str, degraded: bool, at: datetime
) -> PredictResponse:
    decision, sure = UNSCORED[reason]
    return PredictResponse(
        transaction_id=transaction_id,
        fraud_score=None,
        decision=decision,
        confidence=sure,
        top_features={},
        model_version=model_version,
        reason=reason,
        degraded=degraded,
        replayed=False,
        scored_at=at,
    )
