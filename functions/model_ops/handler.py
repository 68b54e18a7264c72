"""The model-ops job (shared/jobs/model_ops.py): hourly, quality from labels, the rollout watchdog and,
locally, the emergency retraining decision; on a CloudWatch alarm's state change (EventBridge), the
emergency retraining (drift, detection drop) or a canary's rollback (any other alarm)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.jobs.model_ops import run_model_ops
from shared.observability import logger, metrics

# The served version's figures over the settled window -> its metric (percent).
PERCENT_METRICS = {
    "precision": "ModelPrecision",
    "recall": "ModelRecall",
    "detection_rate": "ModelDetectionRate",
    "false_positive_rate": "ModelFalsePositiveRate",
}
# ... and its confusion matrix over that window (count).
CONFUSION_METRICS = {
    "true_positive": "SettledTruePositive",
    "false_positive": "SettledFalsePositive",
    "true_negative": "SettledTrueNegative",
    "false_negative": "SettledFalseNegative",
}


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = run_model_ops(event)
    logger.info("model-ops job finished", extra={"summary": summary})
    if "quality" not in summary:  # an alarm's state change
        requested = summary.get("status") == "started"
        rolled_back = summary.get("action") == "rollback"
    else:
        _quality_metrics(summary["quality"])
        requested = (summary["emergency"] or {}).get("status") == "started"
        rolled_back = summary["watchdog"].get("verdict") == "worse"
    metrics.add_metric(name="RetrainRequested", unit=MetricUnit.Count, value=int(requested))
    metrics.add_metric(name="CandidateRolledBack", unit=MetricUnit.Count, value=int(rolled_back))
    return summary


def _quality_metrics(quality: dict[str, Any]) -> None:
    served = quality["served"] or {}
    for field in PERCENT_METRICS:
        if served.get(field) is not None:
            metrics.add_metric(
                name=PERCENT_METRICS[field], unit=MetricUnit.Percent, value=round(100 * served[field], 4)
            )
    if served:
        for field in CONFUSION_METRICS:
            metrics.add_metric(name=CONFUSION_METRICS[field], unit=MetricUnit.Count, value=served[field])
    if quality["detection_drop"] is not None:
        metrics.add_metric(
            name="ModelDetectionDrop",
            unit=MetricUnit.Percent,
            value=round(100 * quality["detection_drop"], 4),
        )
    if quality["served_version"]:
        metrics.add_metadata(key="model_version", value=quality["served_version"])
