"""Poisoning defences (spec threat 3): validate training data against a trusted envelope, look for
anomalies in the training set, and gate promotion on the test split.

- Envelope: for each feature, the central 99% interval [p0.5, p99.5] of a trusted reference window
  (the promoted model's training data, carried in its manifest; before any model is promoted, the
  training window itself), widened by `margin` x its width. Rows outside it are quarantined with a reason
  naming the feature, the value and the envelope; they are kept out of training and validation.
- Anomaly check: an Isolation Forest fitted on the reference window scores the screened rows;
  more anomalies than expected, a fraud rate far from the reference's, identical rows with
  conflicting labels, or a large quarantine share are flagged.
- Gate: a new model is promoted only if it is not worse than the current one on the same test split
  by more than `tolerance` in AUC-PR (and AUC-ROC), and no anomaly flag is raised (for the very
  first model there is nothing to keep in service, so its flags are reported for review instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score

from training.data import LabelledTable

ENVELOPE_QUANTILES = (0.005, 0.995)
DEFAULT_MARGIN = 0.5
# An untrusted window's count (a non-negative integer feature: purchases, failed logins, instruments)
# is absurd only this many times beyond its central 99%'s top (+1): a fraud's tail is not poisoning.
COUNT_HEADROOM = 10.0
MAX_QUARANTINE_SHARE = 0.05
ANOMALY_RATE_FACTOR = 3.0
FRAUD_RATE_FACTOR = 3.0
MAX_CONFLICT_SHARE = 0.01
DEFAULT_TOLERANCE = 0.02


Envelope = dict[str, tuple[float, float]]


def reference_envelope(
    features: pd.DataFrame, margin: float = DEFAULT_MARGIN, *, trusted: bool = True
) -> Envelope:
    """Per feature [p0.5 - margin*w, p99.5 + margin*w], w = p99.5 - p0.5.

    Rare values are not outliers: a trusted window's own extremes are always inside its envelope
    (a fraud flag set on 0.3% of rows is still a legitimate value), and a feature whose central 99%
    is one value (a rare binary flag) takes the window's [min, max]."""
    envelope: Envelope = {}
    for name in features.columns:
        values = features[name].dropna()
        if values.empty:
            continue
        low, high = (float(values.quantile(q)) for q in ENVELOPE_QUANTILES)
        lowest, highest = float(values.min()), float(values.max())
        if high <= low:
            envelope[name] = (lowest, highest)
            continue
        width = high - low
        bounds = (low - margin * width, high + margin * width)
        if not trusted and lowest >= 0 and bool(np.all(np.mod(values.to_numpy(), 1.0) == 0.0)):
            # A count: the frauds live in its top 1% (an 8-card run, 8 failed logins before a takeover,
            # issue 23), which the central 99% of an untrusted window cuts off; an injected absurd count
            # (thousands) still falls outside.
            bounds = (bounds[0], max(bounds[1], COUNT_HEADROOM * (high + 1.0)))
        envelope[name] = (min(bounds[0], lowest), max(bounds[1], highest)) if trusted else bounds
    return envelope


@dataclass
class Quarantine:
    mask: np.ndarray  # True = quarantined
    reasons: list[dict[str, Any]] = field(default_factory=list)  # first examples
    per_feature: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.mask.sum())


def quarantine_outliers(
    features: pd.DataFrame, envelope: Envelope, screened: np.ndarray, examples: int = 50
) -> Quarantine:
    """Rows (among `screened`) with any value outside the envelope; missing values are never outliers."""
    mask = np.zeros(len(features), dtype=bool)
    per_feature: dict[str, int] = {}
    reasons: list[dict[str, Any]] = []
    for name, (low, high) in envelope.items():
        if name not in features.columns:
            continue
        values = features[name].to_numpy()
        with np.errstate(invalid="ignore"):
            outside = screened & ((values < low) | (values > high))
        if outside.any():
            per_feature[name] = int(outside.sum())
            for row in np.flatnonzero(outside & ~mask)[: max(0, examples - len(reasons))]:
                reasons.append(
                    {
                        "row": int(row),
                        "feature": name,
                        "value": float(values[row]),
                        "envelope": [low, high],
                        "reason": f"{name}={values[row]:.6g} outside the reference envelope [{low:.6g}, {high:.6g}]",
                    }
                )
        mask |= outside
    return Quarantine(mask=mask, reasons=reasons, per_feature=per_feature)


def _impute(features: pd.DataFrame, medians: pd.Series) -> np.ndarray:
    return features.fillna(medians).fillna(0.0).to_numpy(dtype=np.float64)


def anomaly_check(
    reference: LabelledTable,
    screened: LabelledTable,
    quarantined_share: float,
    seed: int = 0,
    trusted_fraud_rate: float | None = None,
) -> dict[str, Any]:
    """Statistics of the screened rows against the reference window, and the flags they raise.

    `trusted_fraud_rate` (the promoted model's training fraud rate) is the label baseline when known:
    a poisoner who flips labels across the whole new window also shifts its own earliest half."""
    flags: list[str] = []
    medians = reference.features.median()
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(_impute(reference.features, medians))
    reference_scores = forest.score_samples(_impute(reference.features, medians))
    cutoff = float(np.quantile(reference_scores, 0.01))
    stats: dict[str, Any] = {"reference_rows": len(reference.labels), "screened_rows": len(screened.labels)}
    if len(screened.labels):
        anomaly_rate = float((forest.score_samples(_impute(screened.features, medians)) < cutoff).mean())
        # Expected 1%, with slack for small samples (3 standard errors).
        allowed = ANOMALY_RATE_FACTOR * 0.01 + 3 * np.sqrt(0.01 * 0.99 / len(screened.labels))
        stats["isolation_forest_anomaly_rate"] = anomaly_rate
        stats["isolation_forest_allowed_rate"] = float(allowed)
        if anomaly_rate > allowed:
            flags.append(
                f"{anomaly_rate:.1%} of the new rows look anomalous to the reference (allowed {allowed:.1%})"
            )
        baseline = float(reference.labels.mean()) if trusted_fraud_rate is None else trusted_fraud_rate
        reference_rate = max(baseline, 1e-6)
        screened_rate = float(np.concatenate([reference.labels, screened.labels]).mean())
        if trusted_fraud_rate is None:
            screened_rate = float(screened.labels.mean())
        stats["fraud_rate_baseline"] = baseline
        stats["fraud_rate_baseline_source"] = (
            "the promoted model's training data" if trusted_fraud_rate is not None else "reference window"
        )
        stats["fraud_rate_screened"] = screened_rate
        if not (reference_rate / FRAUD_RATE_FACTOR <= screened_rate <= reference_rate * FRAUD_RATE_FACTOR):
            flags.append(
                f"fraud rate moved from {reference_rate:.2%} to {screened_rate:.2%} (beyond x{FRAUD_RATE_FACTOR:g}): "
                "possible label flipping or injection"
            )
    combined = pd.concat([reference.features, screened.features], ignore_index=True)
    combined["__label"] = np.concatenate([reference.labels, screened.labels])
    keys = [c for c in combined.columns if c != "__label"]
    grouped = combined.fillna(-1e308).groupby(keys, sort=False)["__label"].nunique()
    conflicting_groups = grouped[grouped > 1]
    conflict_share = float(len(conflicting_groups) / max(len(combined), 1))
    stats["conflicting_label_groups"] = len(conflicting_groups)
    if conflict_share > MAX_CONFLICT_SHARE:
        flags.append(
            f"{len(conflicting_groups)} identical feature rows carry both labels ({conflict_share:.2%})"
        )
    share = quarantined_share
    stats["quarantined_share"] = share
    if share > MAX_QUARANTINE_SHARE:
        flags.append(
            f"{share:.1%} of the training rows fell outside the reference envelope (over {MAX_QUARANTINE_SHARE:.0%})"
        )
    return {"flags": flags, "stats": stats, "passed": not flags}


def promotion_gate(
    y_test: np.ndarray,
    new_scores: np.ndarray,
    current_scores: np.ndarray | None,
    *,
    current_version: str | None,
    anomalies: dict[str, Any],
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    new = {
        "auc_pr": float(average_precision_score(y_test, new_scores)),
        "auc_roc": float(roc_auc_score(y_test, new_scores)),
    }
    decision: dict[str, Any] = {"tolerance": tolerance, "new": new, "current_version": current_version}
    reasons: list[str] = []
    if current_scores is not None:
        current = {
            "auc_pr": float(average_precision_score(y_test, current_scores)),
            "auc_roc": float(roc_auc_score(y_test, current_scores)),
        }
        decision["current"] = current
        for metric in ("auc_pr", "auc_roc"):
            if new[metric] < current[metric] - tolerance:
                reasons.append(
                    f"{metric} {new[metric]:.4f} is worse than the current model's {current[metric]:.4f} "
                    f"by more than {tolerance}"
                )
    if not anomalies.get("passed", True):
        if current_version is not None:
            reasons.extend(f"training data anomaly: {flag}" for flag in anomalies["flags"])
        else:
            # Nothing in service to fall back to: the flags go to the report for human review.
            decision["unblocking_flags"] = [
                f"training data anomaly (not blocking: no model in service yet, review it): {flag}"
                for flag in anomalies["flags"]
            ]
    decision["promote"] = not reasons
    decision["reasons"] = (
        reasons
        or (
            ["no current model to compare with"]
            if current_scores is None
            else ["not worse than the current model"]
        )
    ) + decision.get("unblocking_flags", [])
    return decision
