"""Retraining pipeline, step 1 (invoked by the state machine of infra/retrain.py): decide whether this
run trains (bi-weekly: even ISO weeks; an emergency input always trains), then export the point-in-time
training set to the archive bucket. shared/jobs/retrain.py documents the input."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.config import get_settings
from shared.db import connect
from shared.jobs.entry import job_handler
from shared.jobs.retrain import export_step
from shared.observability import logger, metrics


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = export_step(event, bucket=get_settings().archive_bucket, s3=boto3.client("s3"), connect=connect)
    if result["status"] == "skipped":
        metrics.add_metric(name="RetrainSkipped", unit=MetricUnit.Count, value=1)
    logger.info("retraining planned", extra={"result": result})
    return result
