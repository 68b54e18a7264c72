"""What an alarm does when its state changes, beyond paging (shared/oncall/alarms.yaml `action`).

Here: `tighten-2fa` (the REQUIRE_2FA threshold, shared/oncall/tightening.py). The other actions run where
their owner is: `retrain` in the model-ops job (its EventBridge rule on the alarms, shared/jobs/model_ops.py),
`scale-scoring` in Application Auto Scaling (target tracking on the same latency, infra/scoring_capacity.py),
`lock-account` in the SIEM/SOAR (issue 25); `page` is the alarm's SNS topic. The same function serves the
deployed alarms (functions/oncall_actions) and the local stack's evaluator (tooling/local/alerts.py)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from shared.oncall.definitions import load_alarm_book
from shared.oncall.tightening import tighten

ELSEWHERE = {
    "page": "the severity topic's subscribers",
    "retrain": "the model-ops job (EventBridge rule on the alarm)",
    "scale-scoring": "Application Auto Scaling (target tracking on the same latency)",
    "lock-account": "the SIEM/SOAR (issue 25)",
}


def on_alarm(
    connect: Callable[[], AbstractContextManager[Any]], name: str, state: str, at: datetime
) -> dict[str, Any]:
    """Run the action of the alarm `name` (as shared/oncall/alarms.yaml names it, without the
    ticketguard-<env>- prefix) on its change to `state`; what was done."""
    definition = load_alarm_book().alarm(name)
    if state != "ALARM" or definition.action != "tighten-2fa":
        return {
            "alarm": name,
            "state": state,
            "action": definition.action,
            "done_by": ELSEWHERE.get(definition.action, "nothing on this state"),
        }
    with connect() as conn:
        adjustment = tighten(conn, at, alarm=name)
    return {"alarm": name, "state": state, "action": "tighten-2fa", "adjustment": adjustment.as_dict()}


def alarm_name(full_name: str) -> str | None:
    """`fraud-rate-spike` of `ticketguard-prod-fraud-rate-spike` (None: not one of ours)."""
    parts = full_name.split("-", 2)
    if len(parts) < 3 or parts[0] != "ticketguard":
        return None
    return parts[2]
