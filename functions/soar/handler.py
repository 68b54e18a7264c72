"""SOAR (issue 25): a `Security finding` from EventBridge -> its responses within the guardrails; a
scheduled event -> the lift job (lapsed blocks and challenges out of the blocklist and WAF)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.entry import job_handler
from shared.soar.entry import default_deps, run


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run(event, default_deps())
