"""Evaluation on the held-out test split: AUC-ROC and AUC-PR with bootstrap 95% intervals, precision at
90% recall, and at each decision threshold (score >= t counts as flagged) the confusion matrix, F1,
false-positive rate and detection rate; plots as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

DEFAULT_THRESHOLDS = (0.40, 0.65, 0.85)


def precision_at_recall(y: np.ndarray, scores: np.ndarray, recall_floor: float = 0.90) -> float:
    precision, recall, _ = precision_recall_curve(y, scores)
    eligible = precision[recall >= recall_floor]
    return float(eligible.max()) if eligible.size else 0.0


def at_threshold(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    flagged = scores >= threshold
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    fn = int((~flagged & (y == 1)).sum())
    tn = int((~flagged & (y == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "threshold": threshold,
        "confusion_matrix": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "precision": precision,
        "detection_rate": recall,
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def _interval(values: list[float]) -> list[float]:
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if values else []


def bootstrap_intervals(
    y: np.ndarray, scores: np.ndarray, thresholds: Sequence[float], n_boot: int, seed: int
) -> dict[str, list[float]]:
    """95% percentile intervals from resampling the test rows (resamples with one class only are skipped)."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {"auc_roc": [], "auc_pr": [], "precision_at_90_recall": []}
    for t in thresholds:
        for name in ("f1", "false_positive_rate", "detection_rate"):
            samples[f"{name}@{t:.2f}"] = []
    n = len(y)
    for _ in range(n_boot):
        index = rng.integers(0, n, n)
        yb, sb = y[index], scores[index]
        if yb.min() == yb.max():
            continue
        samples["auc_roc"].append(float(roc_auc_score(yb, sb)))
        samples["auc_pr"].append(float(average_precision_score(yb, sb)))
        samples["precision_at_90_recall"].append(precision_at_recall(yb, sb))
        for t in thresholds:
            point = at_threshold(yb, sb, t)
            for name in ("f1", "false_positive_rate", "detection_rate"):
                samples[f"{name}@{t:.2f}"].append(point[name])
    return {name: _interval(values) for name, values in samples.items()}


def score_metrics(
    y: np.ndarray,
    scores: np.ndarray,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    *,
    n_boot: int = 0,
    seed: int = 0,
    probabilities: bool = True,
) -> dict[str, Any]:
    y = np.asarray(y, dtype=np.int8)
    scores = np.asarray(scores, dtype=np.float64)
    metrics: dict[str, Any] = {
        "rows": len(y),
        "frauds": int(y.sum()),
        "auc_roc": float(roc_auc_score(y, scores)),
        "auc_pr": float(average_precision_score(y, scores)),
        "precision_at_90_recall": precision_at_recall(y, scores),
    }
    if probabilities:
        metrics["thresholds"] = {f"{t:.2f}": at_threshold(y, scores, t) for t in thresholds}
    if n_boot:
        intervals = bootstrap_intervals(y, scores, thresholds if probabilities else (), n_boot, seed)
        metrics["ci95"] = intervals
        metrics["bootstrap_resamples"] = n_boot
    return metrics


def shap_importance(contributions: np.ndarray, feature_names: Sequence[str]) -> list[dict[str, Any]]:
    """Mean |SHAP| per feature (bias column dropped), and its share of the total, largest first."""
    mean_abs = np.abs(contributions[:, : len(feature_names)]).mean(axis=0)
    total = float(mean_abs.sum()) or 1.0
    ranked = sorted(zip(feature_names, mean_abs, strict=True), key=lambda item: -item[1])
    return [
        {"feature": name, "mean_abs_shap": float(value), "share": float(value / total)}
        for name, value in ranked
    ]


def save_plots(
    y: np.ndarray, scores: np.ndarray, threshold: float, out_dir: Path, title: str
) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    fpr, tpr, _ = roc_curve(y, scores)
    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=80)
    ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(y, scores):.3f}")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false-positive rate", ylabel="detection rate", title=f"ROC - {title}")
    ax.legend(loc="lower right")
    files["roc"] = _save(fig, out_dir / "roc.png")

    precision, recall, _ = precision_recall_curve(y, scores)
    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=80)
    ax.plot(recall, precision, label=f"AP {average_precision_score(y, scores):.3f}")
    ax.axhline(float(y.mean()), linestyle=":", color="grey", label="fraud rate")
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision-recall - {title}")
    ax.legend(loc="lower left")
    files["pr"] = _save(fig, out_dir / "pr.png")

    fig, ax = plt.subplots(figsize=(5, 4), dpi=80)
    bins = [i / 40 for i in range(41)]
    ax.hist(scores[y == 0], bins=bins, alpha=0.6, label="legitimate", log=True)
    ax.hist(scores[y == 1], bins=bins, alpha=0.6, label="fraud", log=True)
    ax.set(xlabel="fraud score", ylabel="transactions (log)", title="Scores by class")
    ax.legend()
    files["histogram"] = _save(fig, out_dir / "score_histogram.png")

    point = at_threshold(y, scores, threshold)["confusion_matrix"]
    grid = np.array([[point["tp"], point["fn"]], [point["fp"], point["tn"]]])
    fig, ax = plt.subplots(figsize=(4, 3.6), dpi=80)
    ax.imshow(grid, cmap="Blues")
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, str(value), ha="center", va="center")
    ax.set_xticks([0, 1], ["fraud", "legit"])
    ax.set_yticks([0, 1], ["fraud", "legit"])
    ax.set(xlabel="predicted", ylabel="actual", title=f"Confusion matrix at {threshold:.2f}")
    files["confusion_matrix"] = _save(fig, out_dir / "confusion_matrix.png")
    return files


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path.name
