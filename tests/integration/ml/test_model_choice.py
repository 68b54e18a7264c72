"""Given candidates with different class weights, the choice respects the spec's operating point."""

from __future__ import annotations

from shared.ml import train
from shared.ml.data import table_from_training_set
from shared.ml.splits import time_splits
from shared.ml.synthetic import synthetic_transactions


def test_choice_keeps_fpr_within_two_percent_and_auc_pr_near_the_best() -> None:
    splits = time_splits(table_from_training_set(synthetic_transactions(3000, seed=5), source="test"))
    grid = {"max_depth": [3], "min_child_weight": [1], "scale_pos_weight": [1.0, 4.0, 40.0]}
    chosen, trials = train.fit_xgboost(
        (splits.train.features, splits.train.labels), (splits.valid.features, splits.valid.labels), grid=grid
    )
    assert len(trials) == 3 and sum(bool(t.get("chosen")) for t in trials) == 1
    winner = next(t for t in trials if t.get("chosen"))
    best_auc_pr = max(t["valid_auc_pr"] for t in trials)
    eligible = [
        t
        for t in trials
        if t["valid_fpr@0.40"] <= 0.02 and t["valid_auc_pr"] >= best_auc_pr - train.AUC_PR_SLACK
    ]
    if eligible:
        assert winner in eligible
        assert winner["valid_detection@0.65"] == max(t["valid_detection@0.65"] for t in eligible)
    else:
        assert winner["valid_auc_pr"] == best_auc_pr
    assert chosen.params["scale_pos_weight"] == winner["params"]["scale_pos_weight"]
