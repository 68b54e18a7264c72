"""Weekly retention (spec 2.1, 6.3): archive, then delete; in rounds past the 15-minute limit (a Step
Functions loop invokes it again while it answers `continue`: shared/jobs/rounds.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.jobs.events import parse_job
from shared.jobs.rounds import next_round, round_of
from shared.observability import logger, metrics
from shared.retention.job import retention_job
from shared.retention.store import RetentionSettings


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The rule's firing time, or the `as_of` a later round carries: one cutoff for the whole run.
    job = parse_job(event)
    as_of = job.as_of or job.scheduled_at or datetime.now(UTC)
    round_number = round_of(event)
    summary = retention_job(as_of, lambda: context.get_remaining_time_in_millis() / 1000)
    summary |= next_round(
        complete=summary["complete"],
        as_of=as_of,
        round_number=round_number,
        max_rounds=RetentionSettings().retention_max_rounds,
    )
    logger.info("retention finished", extra={"summary": summary})
    metrics.add_metric(name="RetentionRowsArchived", unit=MetricUnit.Count, value=summary["rows_archived"])
    metrics.add_metric(name="RetentionRowsDeleted", unit=MetricUnit.Count, value=summary["rows_deleted"])
    # 1: work was left and no further round follows (the cap of rounds reached).
    incomplete = not summary["complete"] and not summary["continue"]
    metrics.add_metric(name="RetentionIncomplete", unit=MetricUnit.Count, value=1 if incomplete else 0)
    return summary
