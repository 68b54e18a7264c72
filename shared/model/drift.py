"""Model drift: how far the features the model scored recently have moved from its training data.

Run-time safe (standard library and pydantic only, no numpy): the feature job measures it on Lambda
after each run and emits the maximum as the EMF metric `ModelDriftKL` (alarm: > 0.15, spec 4.2).

For every feature of the model's `feature_reference` (shared/model/reference.py), the `features` of
the model-scored predictions (`reason = 'model'`) of that model version in the window are counted in
the reference's buckets: its right-closed value bins plus a bucket of their own for missing values.
Then, per feature,

    KL(live || reference) = sum_i p_i * ln(p_i / q_i)        (nats)

with p the live and q the reference distribution. The direction weighs each bucket by live traffic:
traffic landing where the training data was thin (say a share of missing values the model never
saw) counts heavily, which is the risk to the model's decisions. Both sides are smoothed additively
with SMOOTHING_PSEUDOCOUNT (alpha) per bucket, so that an empty bucket never gives an infinite term:
    p_i = (live_count_i + alpha) / (n + alpha * B)
    q_i = (share_i * N + alpha) / (N + alpha * B)
where B is the number of buckets, n the live rows and N the reference's training rows; q differs
from the recorded shares by at most alpha * B / N (2e-4 for 30 000 rows). The metric is the maximum over
features, reported with the feature that has it. Fewer than `min_rows` live rows give
"insufficient_data" and no value: the estimate's upward bias is about (B - 1) / (2 n) nats, 0.025 at
200 rows (Settings.drift_min_rows) and 11 buckets, well below the alarm threshold. The window
(end - Settings.drift_window_hours, end], 24 h by default, ends at the feature job's time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, ConfigDict

from shared.model.reference import FeatureBins, FeatureReference

SMOOTHING_PSEUDOCOUNT = 0.5  # per bucket, on both sides (Krichevsky-Trofimov / Jeffreys prior)

DriftStatus = Literal["measured", "insufficient_data", "no_model", "no_reference", "failed"]

# created_at is indexed; the window and the version keep the read to one model's recent predictions.
LIVE_FEATURES_SQL = """
SELECT features FROM intel.fraud_predictions
 WHERE reason = %(reason)s AND model_version = %(model_version)s
   AND created_at > %(start)s AND created_at <= %(end)s
   AND (%(every)s = 1 OR prediction_id %% %(every)s = 0)
"""


class DriftReport(BaseModel):
    """One drift measurement; `kl_max` is the metric value, None when nothing is to be emitted
    (`status` and `detail` say why)."""

    model_config = ConfigDict(frozen=True)

    status: DriftStatus
    detail: str
    model_version: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    rows: int = 0
    min_rows: int | None = None
    kl_by_feature: dict[str, float] = {}
    kl_max: float | None = None
    kl_max_feature: str | None = None


def kl_divergence(
    live_counts: Sequence[int],
    reference: FeatureBins,
    reference_rows: int,
    alpha: float = SMOOTHING_PSEUDOCOUNT,
) -> float:
    """KL(live || reference) in nats over the reference's buckets (value bins, then missing)."""
    buckets = reference.bucket_count
    if len(live_counts) != buckets:
        raise ValueError(f"{len(live_counts)} live counts for {buckets} reference buckets")
    rows = sum(live_counts)
    total = 0.0
    for count, share in zip(live_counts, reference.probabilities(), strict=True):
        p = (count + alpha) / (rows + alpha * buckets)
        q = (share * reference_rows + alpha) / (reference_rows + alpha * buckets)
        if p == 0:
            continue  # 0 * ln 0 = 0
        if q == 0:
            return math.inf  # only without smoothing: live mass where the reference has none
        total += p * math.log(p / q)
    return total


def _number(value: Any) -> float | None:
    """A feature value as stored in the jsonb: a number, or missing (null, absent or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def count_buckets(
    rows: Iterable[Mapping[str, Any]], reference: FeatureReference
) -> tuple[int, dict[str, list[int]]]:
    """Rows seen, and per feature the number of rows in each of its buckets."""
    counts = {name: [0] * bins.bucket_count for name, bins in reference.features.items()}
    seen = 0
    for features in rows:
        seen += 1
        for name, bins in reference.features.items():
            counts[name][bins.bin_of(_number(features.get(name)))] += 1
    return seen, counts


def live_features(
    conn: psycopg.Connection,
    model_version: str,
    start: datetime,
    end: datetime,
    *,
    reason: str,
    every: int = 1,
) -> Iterator[dict[str, Any]]:
    """The stored feature vectors of the version's predictions decided for `reason` (the scoring
    room's name of a model decision: the caller's to give, the model room does not know the
    scoring vocabulary) in (start, end], streamed."""
    params = {"reason": reason, "model_version": model_version, "start": start, "end": end, "every": every}
    with conn.cursor() as cursor:
        for (features,) in cursor.stream(LIVE_FEATURES_SQL, params):
            yield features


def measure_drift(
    conn: psycopg.Connection,
    reference: FeatureReference,
    model_version: str,
    *,
    end: datetime,
    window: timedelta,
    min_rows: int,
    reason: str,
    every: int = 1,
) -> DriftReport:
    """Drift of `model_version`'s live features (its predictions decided for `reason`) over
    (end - window, end] against its reference. `every` > 1 reads one prediction in `every` (by id, a
    systematic sample) for a caller with a time budget (the monitoring page); `rows` counts what was read."""
    start = end - window
    live = live_features(conn, model_version, start, end, reason=reason, every=every)
    rows, counts = count_buckets(live, reference)
    measured = {
        "model_version": model_version,
        "window_start": start,
        "window_end": end,
        "rows": rows,
        "min_rows": min_rows,
    }
    if rows < min_rows:
        return DriftReport(
            status="insufficient_data",
            detail=f"{rows} predictions scored by {model_version} in the window, fewer than {min_rows}",
            **measured,
        )
    kl = {
        name: kl_divergence(counts[name], bins, reference.rows) for name, bins in reference.features.items()
    }
    worst = max(kl, key=kl.__getitem__)
    return DriftReport(
        status="measured",
        detail=f"largest drift in {worst}",
        kl_by_feature=kl,
        kl_max=kl[worst],
        kl_max_feature=worst,
        **measured,
    )
