"""The operating point: the policy calibration fitted on validation (shared.model.policy), and what it
does on the test split: detection and false-positive rate at each band, detection at the spec's
false-positive rate, overall and per fraud scenario, each with a 95% interval, beside the spec's figures.

Intervals: Wilson score intervals for a rate at a fixed cut (the cut comes from validation, so the
test rows are independent draws); for detection at FPR 1.8% on test the cut itself is read off the
test rows, so its interval is a bootstrap that refits the cut on every resample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shared.config import Thresholds
from shared.kpis.rates import wilson
from shared.model.policy import LegitRows, PolicyCalibration, cut_at_rate, fit_policy
from shared.scoring.rules import ruled_score

SPEC_DETECTION = 0.942  # spec 1.1: the system's fraud detection rate ...
SPEC_FPR = 0.018  # ... at this false-positive rate
# The false-positive rate on validation at which each band starts (any score >= 0.40 is flagged; a review
# costs an analyst, a block loses a buyer). REQUIRE_2FA starts at 1.5%, not the spec's 1.8%: the live
# limit is 2.0% (issue 23), and the week after validation ran 0.2-0.4 points over it (the test split of
# v20261204.145733: 2.16% on labels, 1.98% on the truth, calibrated to 1.8%), a 90-day marketplace 0.7 points
# over a 21-day one (1.87% and 1.20% for that version): calibrated to the spec's figure, the first drift
# spends the margin. For the simulator source each rate must also hold on every calibration world
# (training.worlds): worlds spread more than one week's interval.
TWO_FACTOR_FPR = 0.015
BAND_FPR = {"two_factor": TWO_FACTOR_FPR, "review": 0.005, "block": 0.001}
BANDS = ("two_factor", "review", "block")

IMBALANCE_NOTE = (
    "Class imbalance: scale_pos_weight in {1, sqrt(neg/pos), neg/pos} is a hyperparameter chosen on the "
    "validation split together with depth and min_child_weight: among candidates whose validation AUC-PR "
    "is within 0.02 of the best, the best validation detection at the spec's 1.8% false-positive rate wins "
    "(then AUC-PR); early stopping uses validation AUC-PR. The decision bands are then placed by the policy "
    "calibration fitted on validation and, for the simulator source, on other simulated worlds (each band "
    "where its false-positive rate holds on all of them: REQUIRE_2FA 1.5%, MANUAL_REVIEW 0.5%, BLOCKED "
    "0.1%, rule-flagged honest purchases counted), so the weighting does not decide the operating point; "
    "the report gives detection and "
    "false-positive rates at the bands, never accuracy."
)


def rule_floors(features: pd.DataFrame | None, thresholds: Sequence[float]) -> list[float]:
    """Per row, the least fraud score the scoring rules give it (shared.scoring.rules; 0.0: none holds),
    for rows with the service's features (a table without them: no rule holds)."""
    if features is None or features.empty:
        return []
    two_factor, review, block = thresholds
    bands = Thresholds(two_factor=two_factor, review=review, block=block)
    return [
        ruled_score(0.0, {k: (None if v != v else v) for k, v in row.items()}, bands)[0]
        for row in features.to_dict("records")
    ]


def fit_operating_policy(
    y_valid: np.ndarray,
    valid_probabilities: np.ndarray,
    thresholds: Sequence[float],
    *,
    valid_features: pd.DataFrame | None = None,
    worlds: Mapping[str, tuple[np.ndarray, pd.DataFrame]] | None = None,
) -> PolicyCalibration:
    """Knots at the false-positive rates of BAND_FPR for the bands' score thresholds, counting the honest
    purchases a scoring rule flags whatever the model says, on the validation split and on each
    calibration world (training.worlds: name -> its honest purchases' probabilities and features): each
    band starts where its rate holds on all of them."""
    y_valid = np.asarray(y_valid)
    legit = y_valid == 0
    valid_floors = rule_floors(None if valid_features is None else valid_features[legit], thresholds)
    sets = {
        "validation": LegitRows(
            np.asarray(valid_probabilities, dtype=np.float64)[legit].tolist(), valid_floors
        )
    }
    for name, (probabilities, features) in (worlds or {}).items():
        sets[name] = LegitRows(
            np.asarray(probabilities, dtype=np.float64).tolist(), rule_floors(features, thresholds)
        )
    targets = [(float(t), BAND_FPR[band]) for band, t in zip(BANDS, thresholds, strict=True)]
    return fit_policy(sets, targets, fitted_on=" + ".join(sets), frauds=int(y_valid.sum()))


def apply_policy(policy: PolicyCalibration, probabilities: np.ndarray) -> np.ndarray:
    """Vectorised PolicyCalibration.apply (the same piecewise-linear map)."""
    xs = [p for p, _ in policy.knots]
    ys = [s for _, s in policy.knots]
    return np.interp(np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0), xs, ys)


def _rate(flagged: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    n, k = int(rows.sum()), int((flagged & rows).sum())
    return {"rate": k / n if n else None, "count": k, "of": n, "ci95": wilson(k, n)}


def _bands(scores: np.ndarray, thresholds: Sequence[float]) -> dict[str, np.ndarray]:
    two_factor, review, block = thresholds
    return {
        "two_factor": scores >= two_factor,  # REQUIRE_2FA or stricter: flagged
        "review": scores > review,  # MANUAL_REVIEW or BLOCKED
        "block": scores > block,  # BLOCKED
    }


def _detection_at_rate(
    y: np.ndarray, probabilities: np.ndarray, rate: float, n_boot: int, seed: int
) -> dict[str, Any]:
    legit, fraud = y == 0, y == 1
    cut = cut_at_rate(probabilities[legit].tolist(), rate)
    flagged = probabilities >= cut
    point = _rate(flagged, fraud)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_boot):
        index = rng.integers(0, len(y), len(y))
        yb, pb = y[index], probabilities[index]
        if yb.min() == yb.max():
            continue
        cb = cut_at_rate(pb[yb == 0].tolist(), rate)
        samples.append(float((pb[yb == 1] >= cb).mean()))
    point["ci95"] = (
        [float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))] if samples else []
    )
    point["interval"] = "bootstrap, the cut refitted on each resample" if samples else "none"
    return {
        "probability_cut": cut,
        "detection": point,
        "false_positive_rate": _rate(flagged, legit)["rate"],
    }


def operating_report(
    y: np.ndarray,
    probabilities: np.ndarray,
    policy: PolicyCalibration,
    thresholds: Sequence[float],
    *,
    scenarios: Sequence[str] | None = None,
    legit_scenario: str = "legit",
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Bands (the fitted policy) and the FPR-1.8% point on the test split, overall and per scenario.

    Per scenario, detection is the share of that scenario's purchases (the simulator's truth) that are
    flagged, whatever their label says (labels are noisy: some fraud is never labelled)."""
    y = np.asarray(y, dtype=np.int8)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    scores = apply_policy(policy, probabilities)
    legit, fraud = y == 0, y == 1
    flagged = _bands(scores, thresholds)
    at_spec = _detection_at_rate(y, probabilities, SPEC_FPR, n_boot, seed)
    report: dict[str, Any] = {
        "spec": {"detection_rate": SPEC_DETECTION, "false_positive_rate": SPEC_FPR},
        "band_fpr_targets": dict(BAND_FPR),
        "policy_calibration": policy.as_json(),
        "bands": {
            band: {
                "score_threshold": float(t),
                "probability_cut": policy.probability_at(float(t)),
                "detection": _rate(flagged[band], fraud),
                "false_positive": _rate(flagged[band], legit),
            }
            for band, t in zip(BANDS, thresholds, strict=True)
        },
        "at_spec_fpr": at_spec,
    }
    if scenarios is not None:
        names = np.asarray(list(scenarios), dtype=object)
        at_cut = probabilities >= at_spec["probability_cut"]
        per: dict[str, Any] = {}
        for name in sorted({str(s) for s in names if s is not None and s == s} - {legit_scenario}):
            rows = names == name
            per[name] = {
                "purchases": int(rows.sum()),
                "labelled_fraud": int((rows & fraud).sum()),
                **{band: _rate(flagged[band], rows) for band in BANDS},
                "at_spec_fpr": _rate(at_cut, rows),
            }
        report["per_scenario"] = per
        report["truth_bands"] = truth_bands(flagged, names, legit_scenario)
    return report


def truth_bands(flagged: dict[str, np.ndarray], names: np.ndarray, legit_scenario: str) -> dict[str, Any]:
    """Each band's detection and false-positive rate against the simulator's truth, not the labels:
    what the live-path evaluation measures (tooling.livepath) and so what its gate holds a version to.
    Labels are noisy both ways (some fraud is never labelled, a few honest purchases are), which moves
    the label-based detection far more than the FPR: one scenario-less row (no truth) is left out."""
    known = np.asarray([s is not None and s == s for s in names])
    fraud = known & (names != legit_scenario)
    legit = known & (names == legit_scenario)
    return {
        band: {"detection": _rate(flagged[band], fraud), "false_positive": _rate(flagged[band], legit)}
        for band in BANDS
    }
