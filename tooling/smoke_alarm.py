"""`ticketguard smoke ... --alarm NAME`: can an alarm reach on-call? Opt-in, for a deployed stack, because
it pages: the alarm is set to ALARM (SetAlarmState), its history is read (DescribeAlarmHistory,
HistoryItemType=Action) until CloudWatch records the notification action, and the check passes only if
every action since then succeeded; the alarm is set back to OK (its OK action notifies too), and the next
evaluation restores its real state.

A topic whose policy does not let CloudWatch publish shows here as "Failed to execute action ...: not
authorized to perform SNS:Publish" (issue 22). The alarms that start an emergency retraining or roll a
canary back (EventBridge hands their state changes to the model-ops job) are refused: a check must not
retrain or roll back. `ticketguard-<env>-job-dead-letters` (HIGH) is a good one to check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.jobs.model_ops import RETRAIN_ALARMS

# Alarms whose state changes make the model-ops job act (infra/retrain.py: AlarmTrigger).
ACTING_ALARMS = (*RETRAIN_ALARMS, "fraud-rate-spike", "api-latency-high")
REASON = "ticketguard smoke: does the notification reach on-call?"


def _outcome(item: dict[str, Any]) -> tuple[bool, str]:
    """One Action history item: whether the action succeeded, and what CloudWatch recorded."""
    summary = str(item.get("HistorySummary", ""))
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except json.JSONDecodeError:
        data = {}
    state = data.get("actionState") if isinstance(data, dict) else None
    succeeded = state == "Succeeded" if state else summary.startswith("Successfully executed action")
    error = data.get("error") if isinstance(data, dict) else None
    return succeeded, summary + (f": {error}" if error and not succeeded else "")


def check_alarm_notification(
    cloudwatch: Any,
    alarm_name: str,
    *,
    timeout_s: float = 120.0,
    poll_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, str]:
    if alarm_name.removeprefix("ticketguard-").split("-", 1)[-1] in ACTING_ALARMS:
        return False, f"{alarm_name} starts a retraining or a rollback when it fires: check another alarm"
    found = cloudwatch.describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
    if not found:
        return False, f"no alarm named {alarm_name}"
    if not found[0].get("ActionsEnabled", True) or not found[0].get("AlarmActions"):
        return False, f"{alarm_name} has no enabled alarm action"
    started = datetime.now(UTC) - timedelta(seconds=5)
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue="ALARM", StateReason=REASON)
    try:
        deadline = clock() + timeout_s
        while True:
            items = cloudwatch.describe_alarm_history(
                AlarmName=alarm_name,
                HistoryItemType="Action",
                StartDate=started,
                ScanBy="TimestampAscending",
            ).get("AlarmHistoryItems", [])
            if items:
                outcomes = [_outcome(item) for item in items]
                failed = [text for ok, text in outcomes if not ok]
                if failed:
                    return False, "; ".join(failed)
                return True, "; ".join(text for _, text in outcomes)
            if clock() >= deadline:
                return False, f"no notification action recorded within {timeout_s:.0f} s"
            sleep(poll_s)
    finally:
        cloudwatch.set_alarm_state(
            AlarmName=alarm_name, StateValue="OK", StateReason="ticketguard smoke: done"
        )
