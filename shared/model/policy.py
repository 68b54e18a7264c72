"""The policy calibration: the model's fraud probability -> the `fraud_score` the client sees.

The decision bands are fixed on the score (spec 1.6: >= 0.40 REQUIRE_2FA, > 0.65 MANUAL_REVIEW,
> 0.85 BLOCKED). A calibrated probability at ~1.5% prevalence rarely reaches 0.40, so read as the score
it leaves most of the false-positive budget unused. Training therefore fits, on the validation split,
the probability at which each band should start (REQUIRE_2FA where validation legitimate purchases
are flagged at the spec's false-positive rate, the stricter bands at smaller rates) and stores a
monotone piecewise-linear map through those points in the manifest:

    (0, 0) -> (p_2fa, two_factor) -> (p_review, review) -> (p_block, block) -> (1, 1)

So `fraud_score >= 0.40` exactly when the probability is >= p_2fa, and so on: the thresholds stay where
the spec puts them, on the score, while the operating point follows the fitted budget. The map is
strictly increasing, so it changes no ranking (AUC, the gate) and it is not a probability any more:
`fraud_score` is a risk score whose bands carry the meaning. A manifest without a calibration (older
versions) maps the probability to itself.

Pure standard library (bisect): the scoring path applies it per request, a few comparisons.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

KIND = "piecewise_linear"
NUDGE = 1e-9  # the least gap between two knots' probabilities


class PolicyError(ValueError):
    """A policy calibration that is not a strictly increasing map of [0, 1] onto [0, 1]."""


@dataclass(frozen=True)
class PolicyCalibration:
    """A strictly increasing piecewise-linear map of [0, 1] onto [0, 1] through `knots` (probability, score)."""

    knots: tuple[tuple[float, float], ...] = ((0.0, 0.0), (1.0, 1.0))
    details: Mapping[str, Any] = field(default_factory=dict)  # how it was fitted (report only)

    def __post_init__(self) -> None:
        knots = self.knots
        if len(knots) < 2 or knots[0] != (0.0, 0.0) or knots[-1] != (1.0, 1.0):
            raise PolicyError("a policy calibration runs from (0, 0) to (1, 1)")
        for (p0, s0), (p1, s1) in pairwise(knots):
            if not (p1 > p0 and s1 > s0):
                raise PolicyError(f"policy calibration knots must strictly increase: {knots}")
        object.__setattr__(self, "_xs", tuple(p for p, _ in knots))

    @property
    def is_identity(self) -> bool:
        return all(p == s for p, s in self.knots)

    def apply(self, probability: float) -> float:
        """The fraud score of a probability (clamped to [0, 1]; NaN stays NaN)."""
        if probability != probability:
            return probability
        if probability <= 0.0:
            return 0.0
        if probability >= 1.0:
            return 1.0
        xs: tuple[float, ...] = self._xs  # type: ignore[attr-defined]
        i = bisect_right(xs, probability)
        (p0, s0), (p1, s1) = self.knots[i - 1], self.knots[i]
        return s0 + (probability - p0) * (s1 - s0) / (p1 - p0)

    def probability_at(self, score: float) -> float:
        """The inverse: the probability whose fraud score is `score` (a band's start, in probability)."""
        score = min(1.0, max(0.0, score))
        ys = [s for _, s in self.knots]
        i = max(1, bisect_right(ys, score))
        if i >= len(ys):
            return 1.0
        (p0, s0), (p1, s1) = self.knots[i - 1], self.knots[i]
        return p0 + (score - s0) * (p1 - p0) / (s1 - s0)

    def as_json(self) -> dict[str, Any]:
        return {"kind": KIND, "knots": [list(k) for k in self.knots], **dict(self.details)}

    @classmethod
    def from_json(cls, raw: Any) -> PolicyCalibration:
        if not isinstance(raw, dict) or raw.get("kind") != KIND or not isinstance(raw.get("knots"), list):
            raise PolicyError(f"policy_calibration must be {{'kind': {KIND!r}, 'knots': [[p, s], ...]}}")
        try:
            knots = tuple((float(p), float(s)) for p, s in raw["knots"])
        except (TypeError, ValueError):
            raise PolicyError("policy_calibration knots must be [probability, score] number pairs") from None
        details = {k: v for k, v in raw.items() if k not in ("kind", "knots")}
        return cls(knots, details)


IDENTITY = PolicyCalibration()


def cut_at_rate(legit_scores: Sequence[float], rate: float) -> float:
    """The lowest cut c such that at most floor(rate * n) of `legit_scores` are >= c, placed halfway
    between the last score allowed over it and the first one kept under it."""
    ranked = sorted(legit_scores, reverse=True)
    n = len(ranked)
    if n == 0:
        raise PolicyError("no legitimate validation rows to fit the policy calibration on")
    allowed = int(rate * n + 1e-9)
    if allowed >= n:
        return 0.0
    below = ranked[allowed]  # the highest score that must stay under the cut
    above = next((s for s in reversed(ranked[:allowed]) if s > below), None)
    if above is None:  # every allowed score ties with `below` (or none allowed): just over it
        return min(1.0, below + max(1e-9, (1.0 - below) * 1e-6))
    return (below + above) / 2


@dataclass(frozen=True)
class LegitRows:
    """One set of legitimate purchases to fit the bands on: their probabilities and, in the same order,
    the least fraud score each gets whatever its probability (a scoring rule's floor,
    shared.scoring.rules; empty: none). A row whose floor reaches a band is flagged there at any cut,
    so it spends that band's budget before the model does."""

    probabilities: Sequence[float]
    floors: Sequence[float] = ()

    def for_band(self, threshold: float) -> list[float]:
        """The probabilities as the band's cut sees them: 1.0 for a row its floor already puts there."""
        if not self.floors:
            return list(self.probabilities)
        return [
            1.0 if floor >= threshold else p for p, floor in zip(self.probabilities, self.floors, strict=True)
        ]


def fit_policy(
    legit_probabilities: Sequence[float] | Mapping[str, LegitRows],
    targets: Sequence[tuple[float, float]],
    **details: Any,
) -> PolicyCalibration:
    """Knots from `targets` = (band threshold on the score, false-positive rate it should start at),
    loosest band first, cut on the legitimate rows' probabilities. Given several named sets (the
    validation split and other worlds), each band starts at the highest of the sets' cuts: its rate
    holds on every set. Cuts that would not increase (too few rows to tell the rates apart) are nudged
    just above the previous one."""
    sets = (
        dict(legit_probabilities)
        if isinstance(legit_probabilities, Mapping)
        else {"validation": LegitRows(legit_probabilities)}
    )
    if not sets:
        raise PolicyError("no legitimate rows to fit the policy calibration on")
    knots = [(0.0, 0.0)]
    fitted = []
    ordered = sorted(targets)
    for i, (threshold, rate) in enumerate(ordered):
        if not 0.0 < threshold < 1.0 or threshold <= knots[-1][1]:
            raise PolicyError(f"band thresholds must increase inside (0, 1): {ordered}")
        cuts = {name: cut_at_rate(rows.for_band(threshold), rate) for name, rows in sets.items()}
        bound_by = max(cuts, key=lambda name: cuts[name])
        room = NUDGE * (len(ordered) - i)  # keeps every later knot under 1
        cut = min(max(cuts[bound_by], knots[-1][0] + NUDGE), 1.0 - room)
        knots.append((cut, threshold))
        band: dict[str, Any] = {"score": threshold, "target_fpr": rate, "probability": cut}
        if len(sets) > 1:
            band |= {"bound_by": bound_by, "cuts": cuts}
        fitted.append(band)
    knots.append((1.0, 1.0))
    rows = {name: len(legit.probabilities) for name, legit in sets.items()}
    counts: dict[str, Any] = {"legit_rows": next(iter(rows.values()))}
    if len(sets) > 1:
        counts["legit_rows_by_set"] = rows
    return PolicyCalibration(tuple(knots), {"bands": fitted, **counts, **details})
