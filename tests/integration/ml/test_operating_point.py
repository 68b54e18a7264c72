"""Given scores and labels, the operating-point report reads detection and false-positive rates at the
policy's bands and at the spec's 1.8%, overall and per scenario, with intervals that hold the estimate."""

from __future__ import annotations

import numpy as np
import pytest

from training.operating import TWO_FACTOR_FPR, apply_policy, fit_operating_policy, operating_report, wilson

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
    # Then REQUIRE_2FA starts near its validation false-positive rate (1.5%), stricter bands flag fewer
    bands = report["bands"]
    assert bands["two_factor"]["false_positive"]["rate"] == pytest.approx(TWO_FACTOR_FPR, abs=0.006)
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


def test_given_noisy_labels_when_reported_then_the_truth_bands_count_what_each_purchase_really_was() -> None:
    # Given a test split where two frauds were never labelled (both flagged by the model), one honest
    # purchase is flagged, and of the four labelled frauds three are flagged
    y_valid = np.array([0] * 95 + [1] * 5, dtype=np.int8)
    valid = np.where(y_valid == 1, 0.9, np.linspace(0.0, 0.3, 100))
    y_test = np.array([0] * 96 + [1] * 4, dtype=np.int8)
    test = np.concatenate([np.linspace(0.0, 0.2, 93), [0.95, 0.95, 0.95], [0.95, 0.95, 0.95, 0.01]])
    names = ["legit"] * 93 + ["stolen_card", "wash_trading", "legit"] + ["stolen_card"] * 4
    policy = fit_operating_policy(y_valid, valid, THRESHOLDS)
    # When the operating point is reported with the simulator's truth
    report = operating_report(y_test, test, policy, THRESHOLDS, scenarios=names, n_boot=20)
    # Then the label bands count the two unlabelled frauds as false positives: 3 of 96, 3 of 4 caught
    labels = report["bands"]["two_factor"]
    assert (labels["false_positive"]["count"], labels["detection"]["count"]) == (3, 3)
    # And the truth bands count 1 false positive of 94 honest purchases and 5 of 6 frauds caught
    truth = report["truth_bands"]["two_factor"]
    assert (truth["false_positive"]["count"], truth["false_positive"]["of"]) == (1, 94)
    assert (truth["detection"]["count"], truth["detection"]["of"]) == (5, 6)
