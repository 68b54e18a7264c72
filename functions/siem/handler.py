"""SIEM (issue 25): CloudWatch Logs subscription deliveries, and every minute the database sources
(login attempts, sessions, fraud decisions and labels); findings go to EventBridge for the SOAR."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.siem.entry import default_deps, run


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, default_deps())
