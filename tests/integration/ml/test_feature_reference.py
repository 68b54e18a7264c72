"""The training-time feature reference: edges from the training rows, shares that sum to 1, and the
same bins the run-time drift counting uses."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from shared.model.drift import count_buckets
from training.reference import MAX_BINS, build_feature_reference, feature_bins


def test_given_a_binary_flag_then_it_gets_two_bins_whatever_its_balance() -> None:
    # Given 0/1 flags that are mostly 0 and mostly 1 (a decile rule alone would merge the rare value)
    for ones in (3, 97):
        column = pd.Series([1.0] * ones + [0.0] * (100 - ones))
        # When binned
        bins = feature_bins(column)
        # Then 0 and 1 each have their bin, with their shares
        assert bins.edges == (0.0,)
        assert bins.shares == pytest.approx(((100 - ones) / 100, ones / 100))


def test_given_a_continuous_feature_with_ties_then_decile_edges_without_duplicates() -> None:
    # Given 40% zeros (new wallets) and a spread of other values
    rng = np.random.default_rng(1)
    column = pd.Series(np.concatenate([np.zeros(400), rng.exponential(50.0, 600)]))
    # When binned
    bins = feature_bins(column)
    # Then the deciles at 0 collapse to one edge, the edges increase, and there are at most 10 bins
    assert bins.edges[0] == 0.0 and bins.shares[0] == pytest.approx(0.4)
    assert all(low < high for low, high in pairwise(bins.edges))
    assert len(bins.shares) == len(bins.edges) + 1 <= MAX_BINS
    assert bins.edges[-1] < column.max()  # no always-empty top bin


def test_given_missing_values_then_they_have_their_share_and_every_feature_sums_to_1() -> None:
    # Given a table with missing values, a constant column and a column that is never present
    rng = np.random.default_rng(2)
    hold = rng.gamma(2.0, 40.0, 1000)
    hold[rng.random(1000) < 0.3] = np.nan
    table = pd.DataFrame({"hold": hold, "constant": 3.0, "absent": np.nan})
    # When the reference is built
    reference = build_feature_reference(table)
    # Then missing values are their own share and each feature's shares sum to 1
    assert reference.rows == 1000
    assert reference.features["hold"].missing_share == pytest.approx(np.isnan(hold).mean())
    assert reference.features["constant"].shares == (1.0,)
    assert reference.features["absent"].probabilities() == (0.0, 1.0)
    for bins in reference.features.values():
        assert sum(bins.probabilities()) == pytest.approx(1.0, abs=1e-12)


def test_given_the_training_rows_when_counted_at_run_time_then_they_give_the_reference_shares() -> None:
    # Given a reference built with numpy on values that sit exactly on edges too
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "count": rng.poisson(3.0, 2000).astype(float),
            "ratio": np.round(rng.normal(0.0, 0.3, 2000), 2),
        }
    )
    table.loc[::7, "ratio"] = np.nan
    reference = build_feature_reference(table)
    # When the same rows are counted by the run-time bin rule
    rows = [{k: None if pd.isna(v) else float(v) for k, v in row.items()} for row in table.to_dict("records")]
    seen, counts = count_buckets(rows, reference)
    # Then both sides agree bucket for bucket
    for name, bins in reference.features.items():
        assert [c / seen for c in counts[name]] == pytest.approx(list(bins.probabilities()), abs=1e-12)


def test_given_no_rows_then_no_reference() -> None:
    with pytest.raises(ValueError, match="at least one training row"):
        build_feature_reference(pd.DataFrame({"a": pd.Series([], dtype=float)}))
