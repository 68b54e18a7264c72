"""Given candidates with different class weights, the choice is the best detection at the spec's 1.8%
false-positive rate on validation, among candidates whose AUC-PR is near the best."""

from __future__ import annotations

from training import train
from training.data import table_from_training_set
from training.splits import time_splits
from training.synthetic import synthetic_transactions


def test_choice_is_the_best_detection_at_the_fpr_budget_among_near_best_auc_pr() -> None:
    splits = time_splits(table_from_training_set(synthetic_transactions(3000, seed=5), source="test"))
    grid = {"max_depth": [3], "min_child_weight": [1], "scale_pos_weight": [1.0, 4.0, 40.0]}
    chosen, trials = train.fit_xgboost(
        (splits.train.features, splits.train.labels), (splits.valid.features, splits.valid.labels), grid=grid
    )
    assert len(trials) == 3 and sum(bool(t.get("chosen")) for t in trials) == 1
    winner = next(t for t in trials if t.get("chosen"))
    best_auc_pr = max(t["valid_auc_pr"] for t in trials)
    eligible = [t for t in trials if t["valid_auc_pr"] >= best_auc_pr - train.AUC_PR_SLACK]
    assert winner in eligible
    assert winner["valid_detection_at_fpr"] == max(t["valid_detection_at_fpr"] for t in eligible)
    # The cut is where at most 1.8% of the validation legitimate rows score at or above it
    legit = splits.valid.features[splits.valid.labels == 0]
    scores = train.predict_proba(chosen.booster, legit)
    assert (scores >= winner["valid_cut"]).mean() <= 0.018
    assert chosen.params["scale_pos_weight"] == winner["params"]["scale_pos_weight"]
