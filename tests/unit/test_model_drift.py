"""Drift arithmetic and the manifest's feature reference: KL against hand-computed values, the bin rule,
counting stored feature vectors, and manifests with, without and with a broken reference."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from shared.errors import ModelIntegrityError
from shared.features.definitions import FEATURE_NAMES
from shared.model.drift import count_buckets, kl_divergence
from shared.model.manifest import MANIFEST_NAME, read_manifest
from shared.model.reference import FeatureBins, FeatureReference
from tests.fixtures.drift import write_model_manifest

HALVES = FeatureBins(edges=(1.0,), shares=(0.5, 0.5), missing_share=0.0)


def test_given_live_counts_when_kl_without_smoothing_then_it_is_the_hand_computed_value() -> None:
    # Given a reference of two equal bins and live rows 3 : 1 : 0 (low, high, missing)
    # When KL(live || reference) is computed without smoothing
    kl = kl_divergence([3, 1, 0], HALVES, reference_rows=98, alpha=0.0)
    # Then it is 0.75 ln(0.75 / 0.5) + 0.25 ln(0.25 / 0.5) = 0.304099 - 0.173287 (the missing
    # bucket has no live mass and adds nothing)
    assert kl == pytest.approx(0.130812, abs=1e-6)


def test_given_live_counts_when_kl_with_smoothing_then_it_is_the_hand_computed_value() -> None:
    # Given the same live counts and a reference counted on 2 rows (1 low, 1 high, 0 missing)
    # When smoothed with 0.5 per bucket (3 buckets)
    kl = kl_divergence([3, 1, 0], HALVES, reference_rows=2, alpha=0.5)
    # Then live p = (3.5, 1.5, 0.5) / 5.5 and reference q = (1.5, 1.5, 0.5) / 3.5, and
    # KL = 0.636364 ln(1.484848) + 0.272727 ln(0.636364) + 0.090909 ln(0.636364)
    #    = 0.251561 - 0.123269 - 0.041090
    assert kl == pytest.approx(0.087202, abs=1e-5)


def test_given_live_mass_where_the_reference_has_none_then_only_smoothing_keeps_kl_finite() -> None:
    # Given live rows that are all missing, a bucket the reference never saw
    live = [0, 0, 10]
    # Then without smoothing the divergence is infinite, with the default smoothing it is finite and large
    assert kl_divergence(live, HALVES, reference_rows=1000, alpha=0.0) == math.inf
    smoothed = kl_divergence(live, HALVES, reference_rows=1000)
    assert math.isfinite(smoothed) and smoothed > 1.0


def test_given_live_counts_in_the_reference_proportions_then_kl_is_zero() -> None:
    assert kl_divergence([49, 49, 0], HALVES, reference_rows=98) == pytest.approx(0.0, abs=1e-12)


def test_given_counts_for_other_buckets_then_kl_refuses_them() -> None:
    with pytest.raises(ValueError, match="2 live counts for 3 reference buckets"):
        kl_divergence([1, 1], HALVES, reference_rows=10)


def test_given_edges_then_bins_are_right_closed_and_missing_has_its_own_bucket() -> None:
    bins = FeatureBins(edges=(0.0, 2.5), shares=(0.2, 0.3, 0.5), missing_share=0.0)
    assert [bins.bin_of(v) for v in (-1.0, 0.0, 0.1, 2.5, 2.6)] == [0, 0, 1, 1, 2]
    assert bins.bin_of(None) == bins.missing_bucket == 3


def test_given_stored_feature_vectors_then_null_absent_and_non_numbers_count_as_missing() -> None:
    # Given a one-feature reference and jsonb vectors as psycopg decodes them
    reference = FeatureReference(rows=4, features={"f": HALVES})
    rows = [{"f": 0.5}, {"f": 7}, {"f": None}, {}, {"f": "3"}, {"f": True}]
    # When counted
    seen, counts = count_buckets(rows, reference)
    # Then one row is low, one high, and the other four are missing
    assert seen == 6 and counts == {"f": [1, 1, 4]}


def test_given_a_manifest_without_feature_reference_then_it_loads_without_one(tmp_path: Path) -> None:
    # Given a manifest written before feature references existed
    directory = write_model_manifest(tmp_path, reference=None)
    # Then it loads, and says there is no reference
    manifest = read_manifest(directory)
    assert manifest.feature_reference is None and manifest.feature_names == FEATURE_NAMES


def test_given_a_manifest_with_feature_reference_then_it_is_exposed(
    tmp_path: Path, drift_reference: FeatureReference
) -> None:
    directory = write_model_manifest(tmp_path, drift_reference)
    assert read_manifest(directory).feature_reference == drift_reference


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda ref: ref["features"]["resale_time"].update(shares=[0.5] * 10), "sum to 1"),
        (lambda ref: ref["features"]["resale_time"]["edges"].reverse(), "strictly increasing"),
        (lambda ref: ref["features"]["resale_time"]["shares"].pop(), "need 10 shares"),
        (lambda ref: ref["features"].pop("resale_time"), "cover feature_names"),
        (lambda ref: ref.update(rows=0), "positive integer"),
    ],
)
def test_given_a_broken_feature_reference_then_the_manifest_is_refused(
    tmp_path: Path, drift_reference: FeatureReference, breakage, message: str
) -> None:
    # Given a manifest whose reference was altered after it was written
    directory = write_model_manifest(tmp_path, drift_reference)
    raw = json.loads((directory / MANIFEST_NAME).read_text())
    breakage(raw["feature_reference"])
    (directory / MANIFEST_NAME).write_text(json.dumps(raw))
    # Then reading it fails as an integrity error naming the problem
    with pytest.raises(ModelIntegrityError, match=message):
        read_manifest(directory)


def test_the_feature_function_and_the_drift_path_import_no_heavy_ml_library() -> None:
    # Given the deps layer holds no numpy/pandas/xgboost/scikit-learn (layers/build.py FORBIDDEN_IN_DEPS)
    code = (
        "import sys; import functions.features.handler, shared.model.drift, shared.jobs.scheduled; "
        "print(sorted(n for n in ('numpy', 'pandas', 'xgboost', 'sklearn', 'scipy') if n in sys.modules))"
    )
    # When the features function's modules are imported in a fresh interpreter
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then none of them was pulled in
    assert result.stdout.strip() == "[]"
