"""Time splits, poisoning defences and metrics, on small generated tables (no servers, no compiler)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shared.errors import ValidationFailed
from training import defences, evaluate
from training.data import LabelledTable, table_from_training_set
from training.splits import time_splits
from training.synthetic import synthetic_transactions


def test_time_splits_train_on_the_past_and_test_on_the_last_week() -> None:
    # Given four weeks of transactions shuffled out of order
    frame = synthetic_transactions(3000, weeks=4).sample(frac=1.0, random_state=1)
    table = table_from_training_set(frame, source="test")
    # When split
    splits = time_splits(table)
    # Then every training time precedes validation, which precedes the last-week test split
    assert splits.train.times is not None and splits.valid.times is not None and splits.test.times is not None
    assert splits.train.times.max() <= splits.valid.times.min()
    assert splits.valid.times.max() <= splits.test.times.min()
    assert splits.test.times.max() - splits.test.times.min() <= pd.Timedelta(days=7)
    assert "last 7 days" in splits.rule
    assert sum(len(p.labels) for p in (splits.train, splits.valid, splits.test)) == 3000


def test_a_split_without_frauds_is_refused() -> None:
    frame = synthetic_transactions(600, weeks=4)
    frame.loc[frame["occurred_at"] > frame["occurred_at"].max() - pd.Timedelta(days=7), "is_fraud"] = 0
    with pytest.raises(ValidationFailed, match=r"the test split .* has 0 fraud"):
        time_splits(table_from_training_set(frame, source="test"))


def _table(values: dict[str, list[float]], labels: list[int]) -> LabelledTable:
    return LabelledTable(pd.DataFrame(values, dtype="float64"), np.array(labels, dtype=np.int8), None, "test")


def test_values_outside_the_reference_envelope_are_quarantined_with_a_reason() -> None:
    # Given a reference window and an envelope from it
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"price": rng.normal(100, 10, 2000), "velocity": rng.poisson(1, 2000).astype(float)}
    )
    envelope = defences.reference_envelope(reference, margin=0.25)
    # When new rows hold a poisoned value, a missing value and normal values
    new = pd.DataFrame({"price": [100.0, 1e6, np.nan, 95.0], "velocity": [1.0, 1.0, 2.0, 500.0]})
    quarantine = defences.quarantine_outliers(new, envelope, np.ones(4, dtype=bool))
    # Then only the out-of-envelope rows are quarantined, each with its reason; missing is not an outlier
    assert quarantine.mask.tolist() == [False, True, False, True]
    assert quarantine.per_feature == {"price": 1, "velocity": 1}
    assert "price=1e+06 outside the reference envelope" in quarantine.reasons[0]["reason"]


def test_anomaly_check_passes_clean_data_and_flags_label_flipping() -> None:
    frame = synthetic_transactions(4000, weeks=4, seed=3)
    table = table_from_training_set(frame, source="test")
    half = np.arange(len(table.labels)) < 2000
    reference, newer = table.subset(half), table.subset(~half)
    clean = defences.anomaly_check(reference, newer, quarantined_share=0.0)
    assert clean["passed"], clean["flags"]
    # When an attacker flips a quarter of the legitimate labels to fraud in the new data
    flipped = newer.subset(np.ones(len(newer.labels), dtype=bool))
    flipped.labels = flipped.labels.copy()
    legit = np.flatnonzero(flipped.labels == 0)
    flipped.labels[legit[::4]] = 1
    result = defences.anomaly_check(reference, flipped, quarantined_share=0.0)
    assert not result["passed"]
    assert any("fraud rate moved" in flag for flag in result["flags"])


def test_gate_refuses_a_model_worse_than_the_current_beyond_tolerance() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.1).astype(int)
    good = np.clip(y * 0.6 + rng.random(2000) * 0.5, 0, 1)
    poor = rng.random(2000)
    passed = {"passed": True, "flags": []}
    refused = defences.promotion_gate(y, poor, good, current_version="v1", anomalies=passed, tolerance=0.02)
    assert not refused["promote"]
    assert any("auc_pr" in r for r in refused["reasons"])
    accepted = defences.promotion_gate(y, good, good, current_version="v1", anomalies=passed)
    assert accepted["promote"]
    first = defences.promotion_gate(y, poor, None, current_version=None, anomalies=passed)
    assert first["promote"] and first["reasons"] == ["no current model to compare with"]
    flagged = defences.promotion_gate(
        y, good, good, current_version="v1", anomalies={"passed": False, "flags": ["x"]}
    )
    assert not flagged["promote"]


def test_threshold_metrics_count_scores_at_or_above_the_threshold() -> None:
    # Given an asymmetric matrix at 0.65 (TP 2, FP 1, FN 3, TN 4: no two counts or rates equal, so a
    # swapped denominator shows), scores at the threshold on both sides and one just under it
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0])
    scores = np.array([0.9, 0.65, 0.65, 0.1, 0.2, 0.5, 0.5, 0.3, 0.649, 0.0])
    # When measured at 0.65
    point = evaluate.at_threshold(y, scores, 0.65)
    # Then each count and rate is its own
    assert point["confusion_matrix"] == {"tp": 2, "fp": 1, "fn": 3, "tn": 4}
    assert point["precision"] == pytest.approx(2 / 3)  # TP / (TP + FP)
    assert point["detection_rate"] == pytest.approx(2 / 5)  # TP / (TP + FN)
    assert point["false_positive_rate"] == pytest.approx(1 / 5)  # FP / (FP + TN)
    assert point["f1"] == pytest.approx(0.5)


def test_metrics_carry_rows_frauds_and_bootstrap_intervals_around_the_estimate() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(3000) < 0.05).astype(int)
    scores = np.clip(y * 0.5 + rng.random(3000) * 0.6, 0, 1)
    metrics = evaluate.score_metrics(y, scores, n_boot=100, seed=0)
    assert metrics["rows"] == 3000 and metrics["frauds"] == int(y.sum())
    for key in ("auc_roc", "auc_pr", "precision_at_90_recall"):
        low, high = metrics["ci95"][key]
        assert low <= metrics[key] <= high
    assert set(metrics["thresholds"]) == {"0.40", "0.65", "0.85"}
    assert "false_positive_rate@0.65" in metrics["ci95"]


def test_shap_importance_shares_sum_to_one_and_rank_features() -> None:
    contributions = np.array([[0.5, -0.1, 0.0, 1.0], [-0.5, 0.1, 0.2, 1.0]])
    ranked = evaluate.shap_importance(contributions, ["a", "b", "c"])
    assert [r["feature"] for r in ranked] == ["a", "b", "c"]
    assert sum(r["share"] for r in ranked) == pytest.approx(1.0)


def test_rare_legitimate_values_are_not_quarantined() -> None:
    # Given a trusted window where a fraud flag is set on 0.3% of rows (beyond its 99.5th percentile)
    flag = np.zeros(2000)
    flag[:6] = 1.0
    envelope = defences.reference_envelope(pd.DataFrame({"geo_velocity_flag": flag}))
    # When new rows carry the flag, then they are inside the envelope; an absurd value is not
    quarantine = defences.quarantine_outliers(
        pd.DataFrame({"geo_velocity_flag": [1.0, 0.0, 7.0]}), envelope, np.ones(3, dtype=bool)
    )
    assert quarantine.mask.tolist() == [False, False, True]


def test_first_model_anomaly_flags_are_reported_but_do_not_block() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(500) < 0.1).astype(int)
    scores = rng.random(500)
    decision = defences.promotion_gate(
        y, scores, None, current_version=None, anomalies={"passed": False, "flags": ["drift"]}
    )
    assert decision["promote"]
    assert any("not blocking" in reason and "drift" in reason for reason in decision["reasons"])


def test_an_untrusted_window_keeps_the_fraud_tail_of_a_count() -> None:
    # Given a first model's window (no trusted envelope): failed logins mostly 0-1, a takeover's 4-8 on
    # 0.4% of rows (beyond the central 99%), and one injected absurd count
    rng = np.random.default_rng(1)
    logins = (rng.random(5000) < 0.05).astype(float)
    logins[:20] = rng.integers(4, 9, 20)
    envelope = defences.reference_envelope(pd.DataFrame({"failed_logins_1h": logins}), trusted=False)
    # When the window is screened against it
    rows = pd.DataFrame({"failed_logins_1h": [0.0, 8.0, 5000.0]})
    quarantine = defences.quarantine_outliers(rows, envelope, np.ones(3, dtype=bool))
    # Then the takeover's count stays; the absurd one is quarantined
    assert quarantine.mask.tolist() == [False, False, True]
    # And a continuous feature's envelope is the central 99% widened by the margin, as before
    price = pd.DataFrame({"price": rng.normal(100, 10, 5000)})
    low, high = defences.reference_envelope(price, trusted=False)["price"]
    assert high < price["price"].max() * 1.5 and low > 0
