"""The model-ops job (shared/jobs/model_ops.py): hourly, quality from labels, the rollout watchdog and,
locally, the emergency retraining decision; on a CloudWatch alarm's state change (EventBridge), the
emergency retraining (drift, detection drop) or a canary's rollback (any other alarm)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.jobs.model_ops import record_metrics, run_model_ops
from shared.observability import logger


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = run_model_ops(event)
    logger.info("model-ops job finished", extra={"summary": summary})
    record_metrics(summary)
    return summary
