"""Scheduled refresh (every 5 minutes) of the dashboard materialized views, concurrently."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.jobs.events import parse_job
from shared.jobs.scheduled import refresh_job
from shared.observability import logger, metrics


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse_job(event)
    summary = refresh_job()
    logger.info("views refreshed", extra={"summary": summary})
    metrics.add_metric(name="ViewsRefreshed", unit=MetricUnit.Count, value=len(summary["refreshed"]))
    metrics.add_metric(name="ViewRefreshSkipped", unit=MetricUnit.Count, value=int(summary["skipped_busy"]))
    metrics.add_metric(
        name="ViewRefreshDuration", unit=MetricUnit.Seconds, value=sum(summary["seconds"].values())
    )
    # the monitoring dashboard's confusion matrix (shared/observability/metrics_catalogue.yaml), last 24 hours
    confusion = summary["confusion_24h"]
    metrics.add_metric(name="ConfusionTruePositive", unit=MetricUnit.Count, value=confusion["true_positive"])
    metrics.add_metric(
        name="ConfusionFalsePositive", unit=MetricUnit.Count, value=confusion["false_positive"]
    )
    metrics.add_metric(name="ConfusionTrueNegative", unit=MetricUnit.Count, value=confusion["true_negative"])
    metrics.add_metric(
        name="ConfusionFalseNegative", unit=MetricUnit.Count, value=confusion["false_negative"]
    )
    return summary
