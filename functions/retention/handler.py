"""Weekly retention (spec 2.1, 6.3): archive, then delete; resumable past the 15-minute limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.jobs.events import parse_job
from shared.observability import logger, metrics
from shared.retention.job import continue_later, retention_job


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The rule's firing time, or the `as_of` a continuation carries: one cutoff for the whole run.
    job = parse_job(event)
    as_of = job.as_of or job.scheduled_at or datetime.now(UTC)
    continuation = int(event.get("continuation", 0)) if isinstance(event, dict) else 0
    summary = retention_job(as_of, lambda: context.get_remaining_time_in_millis() / 1000)
    resumed = not summary["complete"] and continue_later(context.function_name, as_of, continuation)
    summary |= {"continuation": continuation, "continued": resumed}
    logger.info("retention finished", extra={"summary": summary})
    metrics.add_metric(name="RetentionRowsArchived", unit=MetricUnit.Count, value=summary["rows_archived"])
    metrics.add_metric(name="RetentionRowsDeleted", unit=MetricUnit.Count, value=summary["rows_deleted"])
    # 1: work was left and no continuation was started (the cap of continuations reached).
    metrics.add_metric(
        name="RetentionIncomplete", unit=MetricUnit.Count, value=0 if summary["complete"] or resumed else 1
    )
    return summary
