"""The one decorator stack of a scheduled job's Lambda handler: the invocation in every log line
(not the event), an X-Ray segment, the job's EMF metrics flushed at the end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.observability import logger, metrics, tracer

JobHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def job_handler(run: JobHandler) -> JobHandler:
    @logger.inject_lambda_context(log_event=False)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return run(event, context)

    return handler
