"""Score -> decision band, confidence, and the features that pushed the score up.

Boundary rule (spec 1.6 bands, thresholds from configuration):
  score > block       -> BLOCKED
  score > review      -> MANUAL_REVIEW
  score >= two_factor -> REQUIRE_2FA
  else                -> APPROVED
so a score exactly on `block` or `review` takes the milder band, and exactly on `two_factor`
already asks for 2FA ("0.40-0.65 REQUIRE_2FA, < 0.40 APPROVED").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.config import Thresholds
from shared.scoring.types import Decision

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
