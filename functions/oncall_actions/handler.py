"""An alarm's action (shared/oncall/actions.py) on its state change (EventBridge, "CloudWatch Alarm State
Change", rule ticketguard-<env>-oncall-actions): the fraud-rate spike tightens REQUIRE_2FA for a fixed time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.db import connect
from shared.db.timeouts import STATEMENT_TIMEOUT_MS
from shared.errors import ValidationFailed
from shared.jobs.entry import job_handler
from shared.jobs.model_ops import alarm_event
from shared.observability import logger
from shared.oncall.actions import alarm_name, on_alarm


@job_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    changed = alarm_event(event)
    name = alarm_name(changed[0]) if changed else None
    if changed is None or name is None:
        raise ValidationFailed("not a CloudWatch Alarm State Change of a ticketguard alarm")
    at = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    result = on_alarm(
        lambda: connect(autocommit=True, statement_timeout_ms=STATEMENT_TIMEOUT_MS["oncall_actions"]),
        name,
        changed[1],
        at,
    )
    logger.info("alarm action", extra={"result": result})
    return result
