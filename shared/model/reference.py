"""The training-time reference distribution of each feature, as the manifest's `feature_reference` holds it.

Pure standard library: the feature job reads it on Lambda to measure drift (shared/model/drift.py),
and the training pipeline builds it (training/reference.py) with the same bin rule, `FeatureBins.bin_of`.

Bins of one feature with interior edges e1 < e2 < ... < ek are right-closed:
    bin 0 = (-inf, e1], bin 1 = (e1, e2], ..., bin k = (ek, +inf), and bin k + 1 = missing (None).
Right-closed so that a tied value lands in the bin its quantile edge closes: for a 0/1 feature the
edge 0 separates {0} from {1}, two bins.

Manifest shape:
    "feature_reference": {
        "rows": 41200,                   # training rows the shares were counted on
        "features": {"txn_velocity_1h": {"edges": [0.0, 1.0], "shares": [0.7, 0.2, 0.1],
                                         "missing_share": 0.0}, ...}
    }
`shares` has one entry per value bin (len(edges) + 1); shares and missing_share sum to 1.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

SHARE_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class FeatureBins:
    edges: tuple[float, ...]
    shares: tuple[float, ...]  # one per value bin: len(edges) + 1
    missing_share: float

    @property
    def bucket_count(self) -> int:
        """Value bins plus the missing bucket."""
        return len(self.edges) + 2

    @property
    def missing_bucket(self) -> int:
        return len(self.edges) + 1

    def bin_of(self, value: float | None) -> int:
        """The bucket of one value: a value bin, or `missing_bucket` for None."""
        if value is None:
            return self.missing_bucket
        return bisect_left(self.edges, value)  # edges < value: right-closed bins

    def probabilities(self) -> tuple[float, ...]:
        """Shares of every bucket, missing last (the order of `bin_of`)."""
        return (*self.shares, self.missing_share)

    def as_json(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "shares": list(self.shares), "missing_share": self.missing_share}


@dataclass(frozen=True)
class FeatureReference:
    rows: int
    features: dict[str, FeatureBins]  # in the model's feature order

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "features": {name: bins.as_json() for name, bins in self.features.items()}}

    @classmethod
    def from_json(cls, raw: Any, feature_names: tuple[str, ...]) -> FeatureReference:
        """Parse and check a manifest's `feature_reference`; ValueError says what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("feature_reference must be an object")
        rows = raw.get("rows")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise ValueError("feature_reference.rows must be a positive integer")
        features = raw.get("features")
        if not isinstance(features, dict) or list(features) != list(feature_names):
            raise ValueError("feature_reference.features must cover feature_names, in their order")
        return cls(rows=rows, features={name: _parse_bins(name, features[name]) for name in feature_names})


def _numbers(value: Any) -> tuple[float, ...] | None:
    if not isinstance(value, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        return None
    return tuple(float(v) for v in value)


def _parse_bins(name: str, raw: Any) -> FeatureBins:
    if not isinstance(raw, dict):
        raise ValueError(f"feature_reference of {name} must be an object")
    edges, shares = _numbers(raw.get("edges")), _numbers(raw.get("shares"))
    missing = _numbers([raw.get("missing_share")])
    if edges is None or shares is None or missing is None:
        raise ValueError(f"feature_reference of {name} needs finite edges, shares and missing_share")
    if any(low >= high for low, high in pairwise(edges)):
        raise ValueError(f"feature_reference of {name}: edges must be strictly increasing")
    if len(shares) != len(edges) + 1:
        raise ValueError(f"feature_reference of {name}: {len(edges)} edges need {len(edges) + 1} shares")
    bins = FeatureBins(edges=edges, shares=shares, missing_share=missing[0])
    probabilities = bins.probabilities()
    if min(probabilities) < 0 or abs(sum(probabilities) - 1.0) > SHARE_SUM_TOLERANCE:
        raise ValueError(f"feature_reference of {name}: shares and missing_share must be >= 0 and sum to 1")
    return bins
