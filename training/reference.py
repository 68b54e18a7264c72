"""The reference distribution written into each model's manifest (`feature_reference`): per feature,
bin edges from the training rows and the share of rows in each bin, so that the feature job can
measure how far live traffic has drifted from what the model learned (shared/model/drift.py).

Edges: a feature with at most MAX_BINS distinct values gets one bin per value (a 0/1 flag: two
bins); otherwise the interior deciles of its non-missing values, duplicates removed (ties at 0 are
common), and an edge at the maximum dropped since it would close an always-empty top bin. Bins are
right-closed; shares count every row, so the value shares and the missing share sum to 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.model.reference import FeatureBins, FeatureReference

MAX_BINS = 10


def interior_edges(values: np.ndarray) -> tuple[float, ...]:
    """Edges of at most MAX_BINS value bins for the present (non-NaN) values of one feature."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return ()
    distinct = np.unique(finite)
    if distinct.size <= MAX_BINS:
        return tuple(float(v) for v in distinct[:-1])
    deciles = np.unique(np.quantile(finite, np.arange(1, MAX_BINS) / MAX_BINS))
    return tuple(float(v) for v in deciles[deciles < distinct[-1]])


def feature_bins(column: pd.Series) -> FeatureBins:
    values = column.to_numpy(dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    edges = interior_edges(present)
    # side="left" counts the edges below each value: the same right-closed rule as FeatureBins.bin_of.
    counts = np.bincount(np.searchsorted(np.asarray(edges), present, side="left"), minlength=len(edges) + 1)
    rows = max(len(values), 1)
    return FeatureBins(
        edges=edges,
        shares=tuple(float(c) / rows for c in counts),
        missing_share=float(missing.sum()) / rows,
    )


def build_feature_reference(features: pd.DataFrame) -> FeatureReference:
    """The reference of every column of `features` (the model's feature order), counted on its rows."""
    if features.empty:
        raise ValueError("a feature reference needs at least one training row")
    return FeatureReference(
        rows=len(features), features={name: feature_bins(features[name]) for name in features.columns}
    )
