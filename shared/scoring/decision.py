"""Score -> decision band, confidence, and the features that pushed the score up.

Boundary rule (spec 1.6 bands, thresholds from configuration):
  score > block       -> BLOCKED
  score > review      -> MANUAL_REVIEW
  score >= two_factor -> REQUIRE_2FA
  else                -> APPROVED
so a score exactly on `block` or `review` takes the milder band, and exactly on `two_factor`
already asks for 2FA ("0.40-0.65 REQUIRE_2FA, < 0.40 APPROVED").

The response carries the decision: `scored` for the model's, `unscored` for one made without a score
(a blocklisted wallet or IP, or fail-open while PostgreSQL is down): one builder each. `verdict` is the
decision step of a request (shared.scoring.service): the one or the other, with what is stored beside it.

The cold-start guard (shared.scoring.coldstart reads its state) moves the model's score before the band
is chosen: `guarded_score`; then a rule (shared.scoring.rules) may raise it to its floor: `ruled_score`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.config import Thresholds
from shared.features.realtime import FeatureResult
from shared.observability import logger
from shared.scoring import telemetry
from shared.scoring.ports import ScoringModel
from shared.scoring.rules import ruled_score
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


def guarded_score(score: float, cut: float | None, thresholds: Thresholds) -> float:
    """The score through the cold-start guard's map (identity when the guard is off): [0, cut] onto
    [0, two_factor] and [cut, 1] onto [two_factor, 1], linearly."""
    if cut is None or cut <= thresholds.two_factor:
        return score
    two_factor = thresholds.two_factor
    if score <= cut:
        return round(score * two_factor / cut, 6)
    return round(two_factor + (score - cut) * (1.0 - two_factor) / (1.0 - cut), 6)


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
    rules: Sequence[str] = (),
) -> PredictResponse:
    """The model's decision on `score` (the model's own, or as the cold-start guard and the rules moved it)."""
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
        rules=list(rules),
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


@dataclass(frozen=True)
class ShadowScore:
    """A shadow candidate's score of the same features, and the band it would have chosen."""

    version: str
    score: float
    decision: Decision


@dataclass(frozen=True)
class Verdict:
    """A new decision, to store: the response, the feature values it was made on, the model's own
    score where there is one (kept apart from the client's, which the cold-start guard may move), and
    a shadow candidate's score (shared.scoring.rollout stores it beside the decision)."""

    response: PredictResponse
    features: dict[str, float | None] = field(default_factory=dict)
    model_score: float | None = None
    shadow: ShadowScore | None = None


def shadow_score(
    model: ScoringModel, values: Mapping[str, float | None], thresholds: Thresholds
) -> ShadowScore | None:
    """The shadow's score; None when it fails (counted and logged: the shadow decides nothing, so it
    may not fail anything either)."""
    try:
        score = model_score(model, values)
    except Exception as exc:
        telemetry.record_count("ShadowScoringFailed")
        logger.warning("shadow not scored", extra={"model_version": model.version, "error": repr(exc)})
        return None
    return ShadowScore(model.version, score, decide(score, thresholds))


@dataclass(frozen=True)
class Scoring:
    """What a purchase to score is decided on: the deciding model, a shadow candidate (or None), the
    features, the thresholds in force and the cold-start guard's cut (None: the guard is off)."""

    model: ScoringModel
    shadow: ScoringModel | None
    features: FeatureResult
    thresholds: Thresholds
    cut: float | None


def verdict(
    transaction_id: str,
    *,
    blocked_by: Reason | None,
    scoring: Scoring | None,
    served_version: str,
    degraded: bool,
    at: datetime,
) -> Verdict:
    """The decision on a new purchase: BLOCKED without a score when a blocklist matched (`scoring` is
    None then), else the model's, through the cold-start guard; a shadow candidate scores the same
    features beside it."""
    if scoring is None:
        reason = blocked_by or Reason.FAIL_OPEN
        return Verdict(
            unscored(transaction_id, reason, model_version=served_version, degraded=degraded, at=at)
        )
    model, features, thresholds = scoring.model, scoring.features, scoring.thresholds
    output = run_model(model, features.values)
    score, rules = ruled_score(
        guarded_score(output.score, scoring.cut, thresholds), features.values, thresholds
    )
    response = scored(
        transaction_id,
        model,
        output,
        score,
        features.values,
        thresholds,
        unavailable=features.unavailable,
        degraded=features.degraded or degraded,
        at=at,
        rules=rules,
    )
    beside = None if scoring.shadow is None else shadow_score(scoring.shadow, features.values, thresholds)
    return Verdict(response, dict(features.values), model_score=output.score, shadow=beside)
