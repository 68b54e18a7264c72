"""Scheduled feature jobs: hourly (hold time, popularity) and daily (all batch features), each followed
by the served model's drift measurement (ModelDriftKL, the MEDIUM drift alarm's metric)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.jobs.events import parse_job
from shared.jobs.scheduled import feature_job
from shared.observability import logger, metrics


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = parse_job(event)
    summary = feature_job(job)
    # The summary's `drift` holds the per-feature KL values, or the reason none was measured.
    logger.info("feature job finished", extra={"summary": summary})
    metrics.add_metric(
        name="FeatureRowsWritten", unit=MetricUnit.Count, value=sum(summary["rows_written"].values())
    )
    metrics.add_metric(name="FeatureJobDuration", unit=MetricUnit.Seconds, value=summary["seconds"])
    drift = summary["drift"]
    if drift["kl_max"] is not None:
        metrics.add_metric(name="ModelDriftKL", unit=MetricUnit.NoUnit, value=drift["kl_max"])
        # Metadata, not dimensions: the alarm reads the series by service only.
        metrics.add_metadata(key="drift_model_version", value=drift["model_version"])
        metrics.add_metadata(key="drift_feature", value=drift["kl_max_feature"])
    return summary
