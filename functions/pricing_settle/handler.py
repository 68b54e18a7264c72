"""Hourly settlement of the pricing experiment's rewards (the events whose sales are over)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.jobs.events import parse_job
from shared.observability import logger
from shared.pricing.jobs import settle_job


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = parse_job(event)
    summary = settle_job(job.scheduled_at)
    logger.info("pricing rewards settled", extra={"summary": summary})
    return summary
