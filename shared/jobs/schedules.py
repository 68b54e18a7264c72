"""The schedules table (shared/jobs/schedules.yaml): which job runs when, read by the CDK stack
(infra/jobs.py: the EventBridge rules) and by the local timers (shared/local/schedules.py). A schema
and its loader only, so that infra may import it (DESIGN: configuration schemas)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCHEDULES_PATH = Path(__file__).with_name("schedules.yaml")
_EXPRESSION = re.compile(r"^(cron\((\S+ ){5}\S+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")
_FIELDS = frozenset(
    {
        "name",
        "function",
        "state_machine",
        "expression",
        "description",
        "payload",
        "with_time",
        "local_interval_s",
    }
)


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str  # EventBridge schedule expression, UTC
    description: str
    # What the rule starts, one of the two: functions/<function>/handler.py, or a state machine
    # (`retrain`: the retraining pipeline of infra/retrain.py).
    function: str | None = None
    state_machine: str | None = None
    payload: Mapping[str, Any] | None = None  # the job's input (None: EventBridge's own event)
    # Add the rule's firing time to the payload as `scheduled_at` (the feature jobs snapshot by it).
    with_time: bool = False
    local_interval_s: float | None = None  # None: the local timers do not run it


def _schedule(entry: Mapping[str, Any]) -> Schedule:
    unknown = set(entry) - _FIELDS
    if unknown:
        raise ValueError(f"schedule {entry.get('name')}: unknown field(s) {sorted(unknown)}")
    schedule = Schedule(**entry)
    if not _EXPRESSION.match(schedule.expression):
        raise ValueError(f"schedule {schedule.name}: {schedule.expression!r} is not a cron() or rate()")
    if (schedule.function is None) == (schedule.state_machine is None):
        raise ValueError(f"schedule {schedule.name}: give either a function or a state_machine")
    if schedule.local_interval_s is not None and schedule.local_interval_s <= 0:
        raise ValueError(f"schedule {schedule.name}: local_interval_s must be positive")
    if schedule.local_interval_s is not None and schedule.function is None:
        raise ValueError(f"schedule {schedule.name}: only a function runs on the local timers")
    return schedule


def load_schedules(path: Path = SCHEDULES_PATH) -> tuple[Schedule, ...]:
    schedules = tuple(_schedule(entry) for entry in yaml.safe_load(path.read_text())["schedules"])
    names = [schedule.name for schedule in schedules]
    if len(names) != len(set(names)):
        raise ValueError(f"{path.name}: two schedules share a name")
    return schedules


SCHEDULES = load_schedules()
