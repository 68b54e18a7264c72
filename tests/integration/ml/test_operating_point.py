"""Given scores and labels, the operating-point report reads detection and false-positive rates at the
policy's bands and at the spec's 1.8%, overall and per scenario, with intervals that hold the estimate."""

from __future__ import annotations

import numpy as np
import pytest

from training.operating import apply_policy, fit_operating_policy, operating_report, wilson

THRESHOLDS = (0.40, 0.65, 0.85)


def test_wilson_intervals_match_the_textbook_values() -> None:
    assert wilson(5, 10) == pytest.approx([0.2366, 0.7634], abs=1e-4)
    assert wilson(0, 10) == pytest.approx([0.0, 0.2775], abs=1e-4)
    assert wilson(3, 0) == []


def test_bands_and_the_spec_point_are_read_on_the_test_rows_per_scenario() -> None:
    # Given validation and test rows where fraud scores higher, two fraud scenarios of different difficulty
    rng = np.random.default_rng(1)
    y_valid = (rng.random(4000) < 0.05).astype(np.int8)
    valid = np.clip(rng.normal(0.05 + 0.3 * y_valid, 0.05), 0, 1)
    scenarios = np.where(rng.random(4000) < 0.5, "easy", "hard")
    y_test = (rng.random(4000) < 0.05).astype(np.int8)
    test = np.clip(rng.normal(0.05 + np.where(scenarios == "easy", 0.3, 0.05) * y_test, 0.05), 0, 1)
    names = np.where(y_test == 1, scenarios, "legit").tolist()
    # When the policy is fitted on validation and the report read on test
    policy = fit_operating_policy(y_valid, valid, THRESHOLDS)
    report = operating_report(y_test, test, policy, THRESHOLDS, scenarios=names, n_boot=50)
    # Then REQUIRE_2FA starts near the spec's false-positive rate, stricter bands flag fewer
    bands = report["bands"]
    assert bands["two_factor"]["false_positive"]["rate"] == pytest.approx(0.018, abs=0.008)
    fprs = [bands[b]["false_positive"]["rate"] for b in ("two_factor", "review", "block")]
    assert fprs == sorted(fprs, reverse=True)
    # And the counts agree with the scores through the policy
    scores = apply_policy(policy, test)
    assert bands["two_factor"]["detection"]["count"] == int(((scores >= 0.40) & (y_test == 1)).sum())
    # And the easy scenario is caught more often than the hard one, every rate inside its interval
    per = report["per_scenario"]
    assert set(per) == {"easy", "hard"}
    assert per["easy"]["two_factor"]["rate"] > per["hard"]["two_factor"]["rate"]
    at = report["at_spec_fpr"]
    assert at["false_positive_rate"] <= 0.018
    for point in (at["detection"], *(per[s][k] for s in per for k in ("two_factor", "at_spec_fpr"))):
        low, high = point["ci95"]
        assert low <= point["rate"] <= high
